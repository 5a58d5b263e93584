/// Creates layers from their Keras class name and a text configuration (the C ABI's way of building models).
public enum LayerRegistry {
    /// Keys each layer type accepts; anything else is a typo the user should hear about.
    static let allowedKeys: [String: Set<String>] = [
        "Conv2D": ["filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias",
                   "kernel_initializer", "bias_initializer"],
        "Dense": ["units", "activation", "use_bias", "kernel_initializer", "bias_initializer"],
        "MaxPooling2D": ["pool_size", "strides", "padding"],
        "AveragePooling2D": ["pool_size", "strides", "padding"],
        "GlobalAveragePooling2D": [], "GlobalMaxPooling2D": [], "Flatten": [],
        "Dropout": ["rate", "seed"], "Activation": ["activation"], "ReLU": [], "Softmax": ["axis"],
        "BatchNormalization": ["momentum", "epsilon", "center", "scale", "axis"], "Add": [], "Concatenate": ["axis"],
        "ZeroPadding2D": ["padding"], "Rescaling": ["scale", "offset"],
    ]

    static let aliases = ["MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D",
                          "GlobalAvgPool2D": "GlobalAveragePooling2D", "GlobalMaxPool2D": "GlobalMaxPooling2D"]

    /// The layer named `type` (e.g. "Conv2D") built from `config`.
    public static func make(type: String, name: String, config: LayerConfig) throws -> Layer {
        let type = aliases[type] ?? type
        guard let allowed = allowedKeys[type] else {
            throw SwiftCNNError.unknownName("Unknown layer type '\(type)'. Known types: "
                + allowedKeys.keys.sorted().joined(separator: ", ") + ".")
        }
        for key in config.values.keys.sorted() where !allowed.contains(key) {
            throw SwiftCNNError.invalidArgument("\(type): unrecognized keyword argument '\(key)'"
                + (allowed.isEmpty ? "" : "; valid: " + allowed.sorted().joined(separator: ", ")))
        }
        switch type {
        case "Conv2D": return try Conv2D(config: config, name: name)
        case "Dense": return try Dense(config: config, name: name)
        case "MaxPooling2D": return try Pooling2D(mode: .max, config: config, name: name)
        case "AveragePooling2D": return try Pooling2D(mode: .average, config: config, name: name)
        case "GlobalAveragePooling2D": return GlobalPooling2D(mode: .average, name: name)
        case "GlobalMaxPooling2D": return GlobalPooling2D(mode: .max, name: name)
        case "Flatten": return Flatten(name: name)
        case "Dropout": return try Dropout(config: config, name: name)
        case "Activation":
            return ActivationLayer(try Activation(name: config.string("activation")), typeName: "Activation", name: name)
        case "ReLU": return ActivationLayer(.relu, typeName: "ReLU", name: name)
        case "Softmax":
            let axis = try config.int("axis", default: -1)
            guard axis == -1 else { throw SwiftCNNError.invalidArgument("Softmax: only axis=-1 (the last axis) is supported, received axis=\(axis)") }
            return ActivationLayer(.softmax, typeName: "Softmax", name: name)
        case "BatchNormalization": return try BatchNormalization(config: config, name: name)
        case "Add": return Add(name: name)
        case "Concatenate": return try Concatenate(config: config, name: name)
        case "ZeroPadding2D": return try ZeroPadding2D(config: config, name: name)
        case "Rescaling": return try Rescaling(config: config, name: name)
        default: fatalError("unreachable: \(type)")
        }
    }
}
