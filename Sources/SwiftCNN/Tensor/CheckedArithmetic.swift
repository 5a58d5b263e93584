#if canImport(Glibc)
import Glibc
#endif

// Arithmetic on sizes that come from users (shapes, strides, paddings, batch counts, file fields): every product,
// sum and float→int conversion either fits or throws an error naming the argument and its limit, so no value,
// however large, reaches a trapping Swift operation.

/// The largest number of elements one tensor, buffer or parameter array may have (2^40 floats = 4 TiB), far
/// beyond any memory, so that a size that passes is always small enough to be multiplied by a batch or a byte width.
public let maxElementCount = 1 << 40

/// `a · b`, or `invalidArgument` naming `what` when the product overflows or exceeds `limit`.
@inline(__always)
public func checkedMultiply(_ a: Int, _ b: Int, _ what: @autoclosure () -> String, limit: Int = Int.max) throws -> Int {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow, product <= limit else {
        throw SwiftCNNError.invalidArgument("\(what()): \(a) × \(b) exceeds the limit of \(limit)")
    }
    return product
}

/// `a + b`, or `invalidArgument` naming `what` when the sum overflows or exceeds `limit`.
@inline(__always)
public func checkedAdd(_ a: Int, _ b: Int, _ what: @autoclosure () -> String, limit: Int = Int.max) throws -> Int {
    let (sum, overflow) = a.addingReportingOverflow(b)
    guard !overflow, sum <= limit else {
        throw SwiftCNNError.invalidArgument("\(what()): \(a) + \(b) exceeds the limit of \(limit)")
    }
    return sum
}

/// The product of `values` (1 when empty), or `invalidArgument` naming `what` when it overflows or exceeds `limit`.
public func checkedProduct(_ values: [Int], _ what: @autoclosure () -> String, limit: Int = maxElementCount) throws -> Int {
    var product = 1
    for v in values {
        let (p, overflow) = product.multipliedReportingOverflow(by: v)
        guard !overflow, p <= limit else {
            throw SwiftCNNError.invalidArgument("\(what()): the product of \(values) exceeds the limit of \(limit)")
        }
        product = p
    }
    return product
}

/// The product of `values`, or Int.max when it overflows: for counts that are reported, not allocated (FLOPs,
/// receptive fields), where "more than Int.max" is the honest answer.
public func saturatingProduct(_ values: [Int]) -> Int {
    var product = 1
    for v in values {
        let (p, overflow) = product.multipliedReportingOverflow(by: v)
        if overflow { return v < 0 || product < 0 ? Int.min : Int.max }
        product = p
    }
    return product
}

/// `a + b`, or Int.max / Int.min when the sum overflows.
@inline(__always)
public func saturatingAdd(_ a: Int, _ b: Int) -> Int {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? (b > 0 ? Int.max : Int.min) : sum
}

/// `value` converted to an integer if it is finite and inside `range`, else `invalidArgument` naming `what`.
/// Use instead of `Int(x)`, which traps on NaN, infinities and values beyond Int's range.
public func checkedInt(_ value: Double, _ what: @autoclosure () -> String, range: ClosedRange<Int>) throws -> Int {
    guard value.isFinite, value >= Double(range.lowerBound), value <= Double(range.upperBound) else {
        throw SwiftCNNError.invalidArgument("\(what()) must be a finite number in \(range.lowerBound)...\(range.upperBound), received \(value)")
    }
    return Int(value)
}

/// `value` as an Int when it is finite and inside `range`, else nil (for per-element conversions in loops).
@inline(__always)
public func intIfInRange(_ value: Float, _ range: Range<Int>) -> Int? {
    guard value >= Float(range.lowerBound), value < Float(range.upperBound) else { return nil }   // false for NaN
    let i = Int(value)
    return range.contains(i) ? i : nil
}

/// `value` narrowed to Float when it fits float32's finite range, else `invalidArgument` naming `what`.
public func checkedFloat(_ value: Double, _ what: @autoclosure () -> String) throws -> Float {
    guard value.isFinite, abs(value) <= Double(Float.greatestFiniteMagnitude) else {
        throw SwiftCNNError.invalidArgument("\(what()) must be a finite float32 value (magnitude at most \(Float.greatestFiniteMagnitude)), received \(value)")
    }
    return Float(value)
}

/// The one allocation function of the engine: 64-byte aligned, uninitialised storage for `count` floats, or
/// `SwiftCNNError.outOfMemory` giving the size (Python `MemoryError`) when the size is absurd or memory is short.
public func tryAllocateFloats(_ count: Int) throws -> UnsafeMutablePointer<Float> {
    guard count >= 0, count <= maxElementCount else {
        throw SwiftCNNError.outOfMemory("cannot allocate \(count) floats: more than the limit of \(maxElementCount) elements")
    }
    let elements = max(count, 16), bytes = elements * MemoryLayout<Float>.stride
    var raw: UnsafeMutableRawPointer? = nil
    guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
        throw SwiftCNNError.outOfMemory("out of memory: cannot allocate \(bytes) bytes (\(count) floats)")
    }
    return raw.bindMemory(to: Float.self, capacity: elements)
}
