extension Graph {
    /// Floating-point operations of one sample's forward pass through `node` (a multiply-add counts as 2), as
    /// MATLAB's analyzeNetwork and most papers count them: convolutions and dense layers by their products,
    /// pooling and element-wise layers by one operation per window element or output value.
    /// Throws `invalidArgument` when the count exceeds Int (sizes come from users; nothing may trap).
    public func forwardFLOPs(_ index: Int) throws -> Int {
        let node = nodes[index]
        guard !node.isInput else { return 0 }
        let cfg = Dictionary(node.layer.config, uniquingKeysWith: { a, _ in a })
        let inShape = nodes[node.inputs[0]].shape
        let outSize = node.sampleSize
        func pair(_ key: String) -> (Int, Int) {
            let v = (cfg[key] ?? "1").split(separator: ",").compactMap { Int(String($0)) }
            return v.count == 2 ? (v[0], v[1]) : (v.first ?? 1, v.first ?? 1)
        }
        let bias = cfg["use_bias"] == "1" ? outSize : 0
        let what = "FLOPs of layer '\(node.layer.name)'"
        func product(_ values: [Int], plus extra: Int = 0) throws -> Int {
            try checkedAdd(try checkedProduct(values, what, limit: Int.max), extra, what)
        }
        switch node.layer.typeName {
        case "Conv2D":
            let k = pair("kernel_size")
            return try product([2, k.0, k.1, inShape.last!, outSize], plus: bias)
        case "Dense":
            return try product([2, inShape.last!, outSize], plus: bias)
        case "MaxPooling2D", "AveragePooling2D":
            let p = pair("pool_size")
            return try product([p.0, p.1, outSize])
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            return try product(inShape)
        case "BatchNormalization":
            return 2 * outSize
        case "Add":
            return try product([node.inputs.count - 1, outSize])
        case "Activation", "ReLU", "Softmax", "Rescaling", "Dropout":
            return outSize
        default:
            return 0
        }
    }
}
