/// What a pooling layer (`Pooling2D`, `GlobalPooling2D`) computes over its window.
public enum PoolingMode: String, CaseIterable {
    /// The largest value of the window (Keras `MaxPooling2D`, `GlobalMaxPooling2D`).
    case max
    /// The mean of the window (Keras `AveragePooling2D`, `GlobalAveragePooling2D`).
    case average
}
