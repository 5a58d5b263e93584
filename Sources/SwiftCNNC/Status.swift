import SwiftCNN
#if canImport(Glibc)
import Glibc
#endif

// Status codes of swiftcnn.h.
let statusOK: Int32 = 0
let statusInvalid: Int32 = 1
let statusKey: Int32 = 2
let statusState: Int32 = 3
let statusIO: Int32 = 4
let statusNull: Int32 = 5
let statusMemory: Int32 = 6

/// The calling thread's last error message, as a C string owned by the library (one per thread).
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

private let emptyMessage: UnsafeMutablePointer<CChar> = strdup("")!

func setLastError(_ message: String) {
    let old = pthread_getspecific(errorKey)
    pthread_setspecific(errorKey, strdup(message))
    free(old)
}

func lastErrorPointer() -> UnsafePointer<CChar> {
    guard let p = pthread_getspecific(errorKey) else { return UnsafePointer(emptyMessage) }
    return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
}

/// A failure detected in the ABI layer itself.
struct NullArgument: Error { let name: String }

/// Runs `body`, turning thrown errors into a status code and the thread's last error.
func guarded(_ function: String, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return statusOK
    } catch let error as SwiftCNNError {
        setLastError(error.description)
        switch error {
        case .invalidArgument: return statusInvalid
        case .unknownName: return statusKey
        case .invalidState: return statusState
        case .io: return statusIO
        case .outOfMemory: return statusMemory
        }
    } catch let error as NullArgument {
        setLastError("\(function): argument '\(error.name)' must not be NULL")
        return statusNull
    } catch {
        setLastError("\(function): \(error)")
        return statusInvalid
    }
}

/// Unwraps a pointer argument or throws a NULL-argument error naming it.
func required<T>(_ pointer: T?, _ name: String) throws -> T {
    guard let pointer else { throw NullArgument(name: name) }
    return pointer
}

/// Reads a C string argument.
func string(_ pointer: UnsafePointer<CChar>?, _ name: String) throws -> String {
    String(cString: try required(pointer, name))
}

/// A caller's count or size argument as an Int, after checking it is in `0...limit`.
func checkedCount(_ value: Int64, _ what: String, limit: Int = maxElementCount) throws -> Int {
    guard value >= 0, value <= Int64(limit) else {
        throw SwiftCNNError.invalidArgument("\(what) must be in 0...\(limit), received \(value)")
    }
    return Int(value)
}

/// Checks that a caller's element count is what the library expects.
func requireCount(_ given: Int64, _ expected: Int, _ what: String) throws {
    guard given == Int64(expected) else {
        throw SwiftCNNError.invalidArgument("\(what): \(given) values given, \(expected) expected")
    }
}
