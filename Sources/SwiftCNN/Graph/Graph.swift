#if canImport(Glibc)
import Glibc
#endif

/// A directed acyclic graph of layers. Nodes are added in topological order (each node's inputs exist before it),
/// so execution order is insertion order and backward is its reverse.
///
/// Memory: all parameters are one contiguous allocation, all parameter gradients another (llm.c style), so the
/// optimizer, saving and zeroing are single passes. Activations, activation gradients and workspaces are planned
/// once per batch size and reused; a steady-state step allocates nothing.
public final class Graph {
    /// One layer application.
    public final class Node {
        /// The layer this node applies.
        public let layer: Layer
        /// Indices of the nodes feeding this one.
        public let inputs: [Int]
        /// Per-sample output shape.
        public let shape: [Int]
        /// Elements per sample.
        public let sampleSize: Int
        /// Whether the optimizer updates this node's parameters (change it with `Graph.setTrainable`).
        public internal(set) var trainable: Bool = true
        /// Offsets of each parameter tensor in the flat parameter storage.
        public internal(set) var parameterOffsets: [Int] = []
        /// Nodes that consume this node's output (one entry per edge).
        public internal(set) var consumers: [Int] = []

        /// `shape` must have passed `checkedProduct` (the graph checks it when adding the node).
        init(layer: Layer, inputs: [Int], shape: [Int]) {
            self.layer = layer
            self.inputs = inputs
            self.shape = shape
            self.sampleSize = shape.reduce(1, &*)
        }

        /// Whether the node is a model input.
        public var isInput: Bool { layer is InputLayer }
    }

    /// Every node, in topological (insertion) order.
    public private(set) var nodes: [Node] = []
    /// Nodes that are model inputs, in order.
    public private(set) var inputNodes: [Int] = []
    /// Nodes that are model outputs, in order.
    public private(set) var outputNodes: [Int] = []
    /// True once parameters are allocated; no nodes can be added after that.
    public private(set) var isBuilt = false

    /// Flat parameter storage and the matching gradients.
    public private(set) var parameters = FloatBuffer()
    /// Gradients of the parameters, laid out like `parameters`.
    public private(set) var gradients = FloatBuffer()
    /// Number of scalar parameters of the whole graph.
    public private(set) var parameterCount = 0

    // Per-batch-size plan.
    private var plannedBatch = 0
    private var activations: [FloatBuffer] = []
    private var activationGrads: [FloatBuffer] = []
    /// Per edge (node, input slot) a separate gradient buffer when the producer feeds several consumers.
    private var edgeGrads: [[FloatBuffer?]] = []
    private var workspaces: [FloatBuffer] = []
    private var ios: [LayerIO] = []
    /// Changes whenever a node's trainable flag changes.
    public private(set) var trainableGeneration = 0
    /// The batch size of the last forward pass.
    public private(set) var lastBatch = 0

    /// An empty graph; add inputs and layers, then `build`.
    public init() {}

    // MARK: building

    /// Adds an input node with a per-sample shape, e.g. `[28, 28, 1]`.
    @discardableResult
    public func addInput(shape: [Int], name: String = "input_layer") throws -> Int {
        guard !isBuilt else { throw SwiftCNNError.invalidState("The model is already built; no layers can be added.") }
        guard !shape.isEmpty, shape.count < 8, shape.allSatisfy({ $0 > 0 }) else {
            throw SwiftCNNError.invalidArgument("Input '\(name)': shape must be 1 to 7 positive dimensions, received \(describeShape(shape, batch: false))")
        }
        _ = try checkedProduct(shape, "Input '\(name)': elements per sample of shape \(describeShape(shape, batch: false))",
                               limit: Graph.maxSampleSize)
        try checkUniqueName(name)
        nodes.append(Node(layer: InputLayer(name: name, shape: shape), inputs: [], shape: shape))
        inputNodes.append(nodes.count - 1)
        return nodes.count - 1
    }

    /// Adds `layer` applied to the outputs of `inputs`; computes and returns the new node's index.
    @discardableResult
    public func add(_ layer: Layer, inputs: [Int]) throws -> Int {
        guard !isBuilt else { throw SwiftCNNError.invalidState("The model is already built; no layers can be added.") }
        guard !inputs.isEmpty else {
            throw SwiftCNNError.invalidArgument("Layer '\(layer.name)' (\(layer.typeName)) needs at least one input node.")
        }
        for i in inputs where i < 0 || i >= nodes.count {
            throw SwiftCNNError.invalidArgument("Layer '\(layer.name)': input node \(i) does not exist (the model has \(nodes.count) nodes).")
        }
        try checkUniqueName(layer.name)
        let shape = try layer.build(inputShapes: inputs.map { nodes[$0].shape })
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else {
            throw SwiftCNNError.invalidArgument("Layer '\(layer.name)' (\(layer.typeName)) would produce the empty or invalid output shape \(describeShape(shape)).")
        }
        _ = try checkedProduct(shape, "Layer '\(layer.name)' (\(layer.typeName)): elements per sample of the output shape "
                               + describeShape(shape), limit: Graph.maxSampleSize)
        for p in layer.parameterShapes {
            _ = try checkedProduct(p, "Layer '\(layer.name)' (\(layer.typeName)): elements of the weight tensor of shape \(p)")
        }
        nodes.append(Node(layer: layer, inputs: inputs, shape: shape))
        for i in inputs { nodes[i].consumers.append(nodes.count - 1) }
        return nodes.count - 1
    }

    /// Appends `layer` after the last node (a Sequential chain).
    @discardableResult
    public func append(_ layer: Layer) throws -> Int {
        guard !nodes.isEmpty else { throw SwiftCNNError.invalidState("Add an input before layer '\(layer.name)'.") }
        return try add(layer, inputs: [nodes.count - 1])
    }

    private func checkUniqueName(_ name: String) throws {
        if nodes.contains(where: { $0.layer.name == name }) {
            throw SwiftCNNError.invalidArgument("The name \"\(name)\" is used 2 times in the model. All layer names should be unique.")
        }
    }

    /// Marks the output nodes (default: the last node).
    public func setOutputs(_ outputs: [Int]) throws {
        guard !outputs.isEmpty else { throw SwiftCNNError.invalidArgument("A model needs at least one output node.") }
        for o in outputs where o < 0 || o >= nodes.count {
            throw SwiftCNNError.invalidArgument("Output node \(o) does not exist (the model has \(nodes.count) nodes).")
        }
        outputNodes = outputs
    }

    /// Allocates the flat parameter storage and initialises every layer's parameters from `seed`. Throws
    /// `outOfMemory` (and stays unbuilt) when the parameters do not fit in memory.
    public func build(seed: UInt64) throws {
        guard !isBuilt else { return }
        guard !inputNodes.isEmpty else { throw SwiftCNNError.invalidState("The model has no input.") }
        var offset = 0
        var offsets: [[Int]] = []
        for node in nodes {
            var nodeOffsets: [Int] = []
            for shape in node.layer.parameterShapes {
                nodeOffsets.append(offset)
                let size = try checkedProduct(shape, "Layer '\(node.layer.name)': elements of the weight tensor of shape \(shape)")
                offset = try checkedAdd(offset, size, "the model's total number of parameters", limit: maxElementCount)
            }
            offsets.append(nodeOffsets)
        }
        let newParameters = try FloatBuffer(count: offset), newGradients = try FloatBuffer(count: offset)
        if outputNodes.isEmpty { outputNodes = [nodes.count - 1] }
        for (node, nodeOffsets) in zip(nodes, offsets) { node.parameterOffsets = nodeOffsets }
        parameterCount = offset
        parameters = newParameters
        gradients = newGradients
        for (index, node) in nodes.enumerated() {
            var rng = RNG(seed: seed, stream: UInt64(index) &+ 1)
            node.layer.initializeParameters(parameterPointers(node), rng: &rng)
        }
        isBuilt = true
    }

    /// Pointers to a node's parameter tensors inside the flat storage.
    public func parameterPointers(_ node: Node) -> [UnsafeMutablePointer<Float>] {
        node.parameterOffsets.map { parameters.pointer + $0 }
    }

    /// Pointers to a node's parameter gradients inside the flat gradient storage.
    public func gradientPointers(_ node: Node) -> [UnsafeMutablePointer<Float>] {
        node.parameterOffsets.map { gradients.pointer + $0 }
    }

    // MARK: planning

    /// The largest number of elements of one sample of a node (2^31 − 1), so that index arithmetic in the kernels
    /// (row · width, pixel · channels) stays far from overflowing.
    public static let maxSampleSize = (1 << 31) - 1

    /// Floats of one node's activation for `batch` samples, or an error naming the node and the limit.
    private func batchElements(_ batch: Int, _ node: Node) throws -> Int {
        try checkedMultiply(batch, node.sampleSize, "batch of \(batch) samples × \(node.sampleSize) elements per sample "
                            + "of layer '\(node.layer.name)'", limit: maxElementCount)
    }

    /// Sizes every activation, gradient and workspace buffer for `batch` samples. Buffers only grow, so
    /// alternating batch sizes (a short last batch) do not reallocate. Throws `invalidArgument` when a size
    /// exceeds the element limit and `outOfMemory` when memory runs out; the graph then plans again on the next
    /// call (no stale pointers are kept).
    public func plan(batch: Int) throws {
        if batch == plannedBatch { return }
        guard batch > 0 else { throw SwiftCNNError.invalidArgument("The batch is empty (\(batch) samples).") }
        var sizes: [(activation: Int, workspace: Int)] = []
        for node in nodes {
            // Every layer's scratch is a few multiples of its input or output activation, so once these products
            // pass, workspaceSize cannot overflow.
            let activation = try batchElements(batch, node)
            for p in node.inputs { _ = try batchElements(batch, nodes[p]) }
            let workspace = node.layer.workspaceSize(batch: batch)
            guard workspace >= 0, workspace <= maxElementCount else {
                throw SwiftCNNError.outOfMemory("layer '\(node.layer.name)' needs more than \(maxElementCount) floats of "
                                                + "scratch for a batch of \(batch) samples")
            }
            sizes.append((activation, workspace))
        }
        plannedBatch = 0   // growing frees old storage: until this plan completes, nothing planned may be used
        if activations.count != nodes.count {
            activations = nodes.map { _ in FloatBuffer() }
            activationGrads = nodes.map { _ in FloatBuffer() }
            workspaces = nodes.map { _ in FloatBuffer() }
            edgeGrads = nodes.map { node in node.inputs.map { _ in nil } }
        }
        for (i, node) in nodes.enumerated() {
            try activations[i].reserve(sizes[i].activation)
            try activationGrads[i].reserve(sizes[i].activation)
            try workspaces[i].reserve(sizes[i].workspace)
            for (slot, producer) in node.inputs.enumerated() where nodes[producer].consumers.count > 1 {
                if edgeGrads[i][slot] == nil { edgeGrads[i][slot] = FloatBuffer() }
                try edgeGrads[i][slot]!.reserve(sizes[producer].activation)
            }
        }
        ios = nodes.enumerated().map { (i, node) in
            LayerIO(batch: batch, training: false,
                    inputs: node.inputs.map { activations[$0].pointer },
                    output: activations[i].pointer,
                    outputGrad: activationGrads[i].pointer,
                    inputGrads: node.inputs.enumerated().map { (slot, p) in edgeGrads[i][slot]?.pointer ?? activationGrads[p].pointer },
                    needsInputGrad: node.inputs.map { _ in true },
                    parameters: parameterPointers(node),
                    parameterGrads: gradientPointers(node),
                    needsParameterGrads: node.trainable,
                    workspace: workspaces[i].pointer,
                    stepSeed: 0)
        }
        planFusedPooling()
        plannedBatch = batch
    }

    /// Nodes whose forward another node computes (a max pooling fused into the convolution before it).
    private var computedByProducer: [Bool] = []

    /// Whether `node`'s output is computed by the node that feeds it (a max pooling fused into its convolution),
    /// as planned for the last batch size.
    public func isComputedByProducer(_ node: Int) -> Bool { node < computedByProducer.count && computedByProducer[node] }

    /// A convolution whose only consumer is a non-overlapping max pooling pools each chunk of its output while
    /// the chunk is in cache, instead of the pooling reading the whole output back from memory. The
    /// convolution's output is still stored (the pooling's backward and activation read-outs use it).
    private func planFusedPooling() {
        computedByProducer = [Bool](repeating: false, count: nodes.count)
        for (p, node) in nodes.enumerated() {
            guard node.inputs.count == 1, let pool = (node.layer as? Pooling2D)?.fusableMaxPool else { continue }
            let c = node.inputs[0]
            guard nodes[c].layer is Conv2D, nodes[c].consumers == [p] else { continue }
            ios[c].fusedMaxPool = FusedMaxPool(geometry: pool, output: ios[p].output)
            computedByProducer[p] = true
        }
    }

    /// Decides which gradients each layer must produce: an input gradient only where some ancestor has trainable
    /// parameters (or is a model input whose gradient was asked for); parameter gradients only for trainable
    /// nodes. Cached until a trainable flag or the request changes.
    private var gradientFlagsKey: (generation: Int, toInputs: Bool, batch: Int) = (-1, false, 0)
    private func updateGradientFlags(gradientToInputs: Bool) {
        guard gradientFlagsKey != (trainableGeneration, gradientToInputs, plannedBatch) else { return }
        gradientFlagsKey = (trainableGeneration, gradientToInputs, plannedBatch)
        var wantsGrad = [Bool](repeating: false, count: nodes.count)
        for (i, node) in nodes.enumerated() {
            if node.isInput { wantsGrad[i] = gradientToInputs; continue }
            let ownParams = node.trainable && !node.layer.parameterShapes.isEmpty
            wantsGrad[i] = ownParams || node.inputs.contains { wantsGrad[$0] }
        }
        for (i, node) in nodes.enumerated() {
            ios[i].needsParameterGrads = node.trainable && !node.layer.parameterShapes.isEmpty
            for (slot, p) in node.inputs.enumerated() { ios[i].needsInputGrad[slot] = wantsGrad[p] }
        }
    }

    // MARK: execution

    /// Runs every node on `batch` samples of a single-input model (`input`: batch × input shape floats).
    /// Throws only when the buffers for `batch` cannot be planned (see `plan(batch:)`).
    public func forward(input: UnsafePointer<Float>, batch: Int, training: Bool, stepSeed: UInt64 = 0) throws {
        precondition(inputNodes.count == 1 && batch > 0 && isBuilt)
        try plan(batch: batch)
        activations[inputNodes[0]].pointer.update(from: input, count: batch * nodes[inputNodes[0]].sampleSize)
        runLayers(training: training, stepSeed: stepSeed)
        lastBatch = batch
    }

    /// Runs every node on `batch` samples; `inputs` holds each model input's data (batch × shape floats).
    public func forward(inputs: [UnsafePointer<Float>], batch: Int, training: Bool, stepSeed: UInt64 = 0) throws {
        precondition(inputs.count == inputNodes.count && batch > 0 && isBuilt)
        try plan(batch: batch)
        for (k, n) in inputNodes.enumerated() {
            activations[n].pointer.update(from: inputs[k], count: batch * nodes[n].sampleSize)
        }
        runLayers(training: training, stepSeed: stepSeed)
        lastBatch = batch
    }

    private func runLayers(training: Bool, stepSeed: UInt64) {
        for i in nodes.indices where !nodes[i].isInput && !computedByProducer[i] {
            ios[i].training = training
            ios[i].stepSeed = stepSeed
            nodes[i].layer.forward(ios[i])
        }
    }

    /// Propagates dLoss/d(output of `seed`) = `gradient` (batch × shape floats) back through the graph after
    /// `forward`. Parameter gradients land in `gradients`; every node's output gradient stays readable with
    /// `activationGradient`. `gradientToInputs` also computes the gradient at the model inputs.
    /// With `preActivation`, `gradient` is taken with respect to the seed layer's value before its fused
    /// activation (for Grad-CAM's class score before softmax).
    public func backward(seed: Int, gradient: UnsafePointer<Float>, gradientToInputs: Bool, preActivation: Bool = false) {
        let batch = lastBatch
        precondition(batch > 0 && batch == plannedBatch && seed >= 0 && seed < nodes.count)
        updateGradientFlags(gradientToInputs: gradientToInputs)
        // Layers overwrite their input gradients, so only sums need zeroing: fan-out producers.
        for i in 0..<seed where nodes[i].consumers.count > 1 {
            activationGrads[i].zero(batch * nodes[i].sampleSize)
        }
        activationGrads[seed].pointer.update(from: gradient, count: batch * nodes[seed].sampleSize)
        if reached.count != nodes.count { reached = [Bool](repeating: false, count: nodes.count) }
        for i in reached.indices { reached[i] = i == seed }
        for i in stride(from: seed, through: 0, by: -1) {
            let node = nodes[i]
            guard reached[i], !node.isInput else { continue }
            let io = ios[i]
            guard io.needsInputGrad.contains(true) || io.needsParameterGrads else { continue }
            if i == seed && preActivation {
                ios[i].outputGradIsPreActivation = true
                node.layer.backward(ios[i])
                ios[i].outputGradIsPreActivation = false
            } else {
                node.layer.backward(io)
            }
            for (slot, p) in node.inputs.enumerated() where io.needsInputGrad[slot] {
                reached[p] = true
                // Fan-out: add this consumer's edge gradient into the producer's gradient.
                if let edge = edgeGrads[i][slot] {
                    let count = batch * nodes[p].sampleSize
                    let dst = activationGrads[p].pointer, src = edge.pointer
                    for j in 0..<count { dst[j] += src[j] }
                }
            }
        }
    }
    private var reached: [Bool] = []

    /// The activation of `node` from the last forward pass (batch × shape floats).
    public func activation(_ node: Int) -> UnsafeMutablePointer<Float> { activations[node].pointer }

    /// dLoss/d(output of `node`) from the last backward pass.
    public func activationGradient(_ node: Int) -> UnsafeMutablePointer<Float> { activationGrads[node].pointer }

    /// Sets a node's trainable flag (frozen nodes get no parameter gradients and no updates).
    public func setTrainable(_ node: Int, _ trainable: Bool) {
        if nodes[node].trainable != trainable { trainableGeneration += 1 }
        nodes[node].trainable = trainable
        if node < ios.count { ios[node].needsParameterGrads = trainable }
    }
}
