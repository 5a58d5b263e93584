/// The placeholder layer of an input node: it has a fixed per-sample shape and no computation.
public final class InputLayer: Layer {
    public var name: String
    public var typeName: String { "InputLayer" }
    public let shape: [Int]

    public init(name: String = "input_layer", shape: [Int]) {
        self.name = name
        self.shape = shape
    }

    public func build(inputShapes: [[Int]]) throws -> [Int] { shape }
    public func forward(_ io: LayerIO) {}
    public func backward(_ io: LayerIO) {}
    public var config: [(String, String)] { [("shape", shape.map(String.init).joined(separator: ","))] }
}
