/// The optimizers of Keras 3 with their update rules and defaults. State (momentum, moving averages) is one flat
/// array per slot matching the graph's flat parameter storage, so an update is a pass over contiguous ranges.
public final class Optimizer {
    /// The update rule.
    public enum Kind: String { case sgd, rmsprop, adam }

    /// Which update rule.
    public let kind: Kind
    /// Step size (Keras `learning_rate`).
    public var learningRate: Float
    /// SGD and RMSprop momentum.
    public var momentum: Float
    /// SGD Nesterov momentum.
    public var nesterov: Bool
    /// RMSprop decay of the squared-gradient average.
    public var rho: Float
    /// Adam decay of the first moment.
    public var beta1: Float
    /// Adam decay of the second moment.
    public var beta2: Float
    /// Added to denominators (RMSprop, Adam).
    public var epsilon: Float
    /// Number of updates applied so far (Keras `iterations`).
    public private(set) var iterations: Int = 0

    private var slot1 = FloatBuffer()   // SGD/RMSprop momentum, Adam first moment
    private var slot2 = FloatBuffer()   // RMSprop velocity, Adam second moment

    /// SGD(learning_rate=0.01, momentum=0, nesterov=False), RMSprop(0.001, rho=0.9, momentum=0, epsilon=1e-7),
    /// Adam(0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7).
    public init(kind: Kind, learningRate: Float? = nil, momentum: Float = 0, nesterov: Bool = false, rho: Float = 0.9,
                beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7) {
        self.kind = kind
        self.learningRate = learningRate ?? (kind == .sgd ? 0.01 : 0.001)
        self.momentum = momentum
        self.nesterov = nesterov
        self.rho = rho
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// Parses `"adam;learning_rate=0.001;beta_1=0.9"` (the C ABI form). Unknown names or keys throw.
    public convenience init(description: String) throws {
        let parts = description.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts.first ?? "").trimmed.lowercased()
        guard let kind = Kind(rawValue: name) else {
            throw SwiftCNNError.unknownName("Unknown optimizer '\(name)'. Valid optimizers: sgd, rmsprop, adam.")
        }
        let cfg = try LayerConfig(layerType: name, text: parts.count > 1 ? String(parts[1]) : "")
        let allowed: Set<String> = switch kind {
        case .sgd: ["learning_rate", "momentum", "nesterov"]
        case .rmsprop: ["learning_rate", "rho", "momentum", "epsilon"]
        case .adam: ["learning_rate", "beta_1", "beta_2", "epsilon"]
        }
        for key in cfg.values.keys where !allowed.contains(key) {
            throw SwiftCNNError.invalidArgument("\(name): unknown argument '\(key)'. Valid: \(allowed.sorted().joined(separator: ", ")).")
        }
        // Every hyper-parameter must be a float32 value: 1e300 would become inf and poison the weights.
        func float(_ key: String, _ def: Double) throws -> Float {
            try checkedFloat(try cfg.double(key, default: def), "\(name): \(key)")
        }
        self.init(kind: kind,
                  learningRate: cfg.values["learning_rate"] == nil ? nil : try float("learning_rate", 0),
                  momentum: try float("momentum", 0),
                  nesterov: try cfg.bool("nesterov", default: false),
                  rho: try float("rho", 0.9),
                  beta1: try float("beta_1", 0.9),
                  beta2: try float("beta_2", 0.999),
                  epsilon: try float("epsilon", 1e-7))
        try validate()
    }

    func validate() throws {
        guard learningRate >= 0, learningRate.isFinite else {
            throw SwiftCNNError.invalidArgument("\(kind.rawValue): learning_rate must be a finite number >= 0, received \(learningRate)")
        }
        guard momentum >= 0, momentum <= 1 else {
            throw SwiftCNNError.invalidArgument("\(kind.rawValue): momentum must be in [0, 1], received \(momentum)")
        }
        guard rho >= 0, rho < 1, beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1, epsilon >= 0, epsilon.isFinite else {
            throw SwiftCNNError.invalidArgument("\(kind.rawValue): rho, beta_1 and beta_2 must be in [0, 1) and epsilon >= 0")
        }
    }

    /// Number of state arrays (each the size of the flat parameter storage): SGD without momentum 0,
    /// SGD with momentum 1, RMSprop 1 or 2 (velocity, then momentum), Adam 2 (first, then second moment).
    public var stateSlotCount: Int {
        switch kind {
        case .sgd: return momentum > 0 ? 1 : 0
        case .rmsprop: return momentum > 0 ? 2 : 1
        case .adam: return 2
        }
    }

    /// The storage of state slot `index` (see `stateSlotCount`), for saving and restoring.
    public func stateSlot(_ index: Int) -> UnsafeMutablePointer<Float> {
        switch (kind, index) {
        case (.rmsprop, 0): return slot2.pointer
        case (.rmsprop, _): return slot1.pointer
        case (_, 0): return slot1.pointer
        default: return slot2.pointer
        }
    }

    /// The largest update counter accepted (2^53: every count up to it is exact as a Double in Adam's bias
    /// correction, and counting on from it cannot overflow).
    public static let maxIterations = 1 << 53

    /// Restores the update counter (Adam's bias correction depends on it); throws outside 0...maxIterations.
    public func setIterations(_ n: Int) throws {
        guard n >= 0, n <= Optimizer.maxIterations else {
            throw SwiftCNNError.invalidArgument("optimizer iterations must be in 0...\(Optimizer.maxIterations), received \(n)")
        }
        iterations = n
    }

    /// Sizes (and zeroes) the state for `parameterCount` parameters; throws `outOfMemory` (state unchanged)
    /// when it does not fit.
    public func reset(parameterCount: Int) throws {
        let new1 = try FloatBuffer(count: parameterCount), new2 = try FloatBuffer(count: parameterCount)
        slot1 = new1
        slot2 = new2
        iterations = 0
    }

    /// Applies one update to every parameter range in `ranges` (the trainable ones).
    public func apply(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
                      ranges: [Range<Int>]) {
        iterations = min(iterations + 1, Optimizer.maxIterations)   // setIterations keeps it far below Int.max
        let lr = learningRate
        // Adam's bias correction folded into the step size, as Keras 3 does.
        let step = Double(iterations)
        let adamAlpha = Float(Double(lr) * (1 - pow(Double(beta2), step)).squareRoot() / (1 - pow(Double(beta1), step)))
        for range in ranges {
            let job = (Unmanaged.passUnretained(self), w, g, lr, adamAlpha, range.lowerBound)
            parallelFor(range.count, minChunk: 1 << 16, context: job) { context, lo, hi in
                let (optimizer, w, g, lr, adamAlpha, base) = context.assumingMemoryBound(
                    to: (Unmanaged<Optimizer>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Float, Float, Int).self).pointee
                optimizer.takeUnretainedValue().update(w, g, (base + lo)..<(base + hi), lr: lr, adamAlpha: adamAlpha)
            }
        }
    }

    /// The update rule over one contiguous range of parameters: eight at a time, then the tail. Written as vectors
    /// because the compiler kept the scalar loops scalar (a square root and a division per parameter: RMSprop took
    /// 7 % of a VGG16 training step on Zen 4). Same operations in the same order, so the results are identical.
    private func update(_ w: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ range: Range<Int>,
                        lr: Float, adamAlpha: Float) {
        let m = slot1.pointer, v = slot2.pointer
        let vectorEnd = range.lowerBound + range.count / 8 * 8
        switch kind {
        case .sgd:
            if momentum == 0 {
                for i in range { w[i] -= lr * g[i] }
            } else {
                let mu = momentum
                for i in range {
                    m[i] = mu * m[i] - lr * g[i]
                    w[i] += nesterov ? mu * m[i] - lr * g[i] : m[i]
                }
            }
        case .rmsprop:
            let rho = self.rho, eps = epsilon, mu = momentum
            var i = range.lowerBound
            while i < vectorEnd {
                let g8 = load8(g + i)
                let v8 = SIMD8(repeating: rho) * load8(v + i) + SIMD8(repeating: 1 - rho) * g8 * g8
                store8(v + i, v8)
                let increment = SIMD8(repeating: lr) * g8 / swiftcnn_square_root8(v8 + SIMD8(repeating: eps))
                if mu > 0 {
                    let m8 = SIMD8(repeating: mu) * load8(m + i) + increment
                    store8(m + i, m8)
                    store8(w + i, load8(w + i) - m8)
                } else {
                    store8(w + i, load8(w + i) - increment)
                }
                i += 8
            }
            for i in vectorEnd..<range.upperBound {
                v[i] = rho * v[i] + (1 - rho) * g[i] * g[i]
                let increment = lr * g[i] / (v[i] + eps).squareRoot()
                if mu > 0 {
                    m[i] = mu * m[i] + increment
                    w[i] -= m[i]
                } else {
                    w[i] -= increment
                }
            }
        case .adam:
            let b1 = beta1, b2 = beta2, eps = epsilon
            var i = range.lowerBound
            while i < vectorEnd {
                let g8 = load8(g + i)
                let m0 = load8(m + i), v0 = load8(v + i)
                let m8 = m0 + (g8 - m0) * SIMD8(repeating: 1 - b1)
                let v8 = v0 + (g8 * g8 - v0) * SIMD8(repeating: 1 - b2)
                store8(m + i, m8)
                store8(v + i, v8)
                store8(w + i, load8(w + i) - SIMD8(repeating: adamAlpha) * m8 / (swiftcnn_square_root8(v8) + SIMD8(repeating: eps)))
                i += 8
            }
            for i in vectorEnd..<range.upperBound {
                m[i] += (g[i] - m[i]) * (1 - b1)
                v[i] += (g[i] * g[i] - v[i]) * (1 - b2)
                w[i] -= adamAlpha * m[i] / (v[i].squareRoot() + eps)
            }
        }
    }

    /// The optimizer as the C ABI / save format describes it.
    public var description: String {
        switch kind {
        case .sgd: return "sgd;learning_rate=\(learningRate);momentum=\(momentum);nesterov=\(nesterov ? 1 : 0)"
        case .rmsprop: return "rmsprop;learning_rate=\(learningRate);rho=\(rho);momentum=\(momentum);epsilon=\(epsilon)"
        case .adam: return "adam;learning_rate=\(learningRate);beta_1=\(beta1);beta_2=\(beta2);epsilon=\(epsilon)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import SwiftCNNIntrinsics

@inline(__always)
private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

@inline(__always)
private func store8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
