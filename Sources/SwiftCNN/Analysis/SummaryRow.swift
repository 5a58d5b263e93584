/// One row of the summary table: a layer, or several nodes shown as one (a nested model, "vgg16 (Functional)").
public struct SummaryRow: Equatable {
    /// Shown in the first column with `type`: "name (type)".
    public var name: String
    /// The layer's or model's class name.
    public var type: String
    /// The nodes whose parameters this row counts.
    public var nodes: [Int]
    /// The nodes whose output shapes the row shows (the first also gives the receptive field).
    public var outputs: [Int]
    /// The "Connected to" cell's entries (layers feeding this one); nil where the table has no such column.
    public var connectedTo: [String]?

    /// A row from its parts.
    public init(name: String, type: String, nodes: [Int], outputs: [Int], connectedTo: [String]? = nil) {
        self.name = name
        self.type = type
        self.nodes = nodes
        self.outputs = outputs
        self.connectedTo = connectedTo
    }
}
