/// Errors the engine reports instead of trapping. The C ABI turns each into a status code and message.
public enum SwiftCNNError: Error, CustomStringConvertible {
    /// An argument has a wrong value or shape (Python `ValueError`).
    case invalidArgument(String)
    /// A name that is not known: layer type, loss, optimizer, node (Python `KeyError`).
    case unknownName(String)
    /// The object is not in a state that allows the call, e.g. training before `compile` (Python `RuntimeError`).
    case invalidState(String)
    /// A file could not be read or written (Python `OSError`).
    case io(String)
    /// Memory for a buffer could not be allocated; the message gives the size (Python `MemoryError`).
    case outOfMemory(String)

    /// The message, as the C ABI and Python report it.
    public var description: String {
        switch self {
        case .invalidArgument(let m), .unknownName(let m), .invalidState(let m), .io(let m), .outOfMemory(let m): return m
        }
    }
}

/// Formats a per-sample shape the way Keras prints it: `(None, 28, 28, 1)`.
public func describeShape(_ shape: [Int], batch: Bool = true) -> String {
    let dims = (batch ? ["None"] : []) + shape.map(String.init)
    return "(" + dims.joined(separator: ", ") + (dims.count == 1 ? ",)" : ")")
}
