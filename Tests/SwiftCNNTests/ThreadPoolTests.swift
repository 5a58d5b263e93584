import XCTest
import SwiftCNN
#if canImport(Glibc)
import Glibc
#endif

/// The pool covers every index exactly once, from two OS threads at once and from nested calls.
final class ThreadPoolTests: XCTestCase {
    private var threadsBefore = 1

    // Every test here changes the engine's thread count; the next test class must find it as it was.
    override func setUp() { threadsBefore = engineThreadCount }
    override func tearDown() { setEngineThreadCount(threadsBefore) }

    private func coverage(_ count: Int, minChunk: Int = 1) -> [Int] {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
        hits.initialize(repeating: 0, count: max(count, 1))
        defer { hits.deallocate() }
        parallelFor(count, minChunk: minChunk) { range in for i in range { hits[i] += 1 } }
        return Array(UnsafeBufferPointer(start: hits, count: count))
    }

    func testEveryIndexOnce() {
        setEngineThreadCount(4)
        for count in [0, 1, 2, 3, 7, 64, 1000, 4097] {
            for _ in 0..<50 { XCTAssertEqual(coverage(count), [Int](repeating: 1, count: count), "count \(count)") }
        }
        XCTAssertEqual(coverage(100, minChunk: 60), [Int](repeating: 1, count: 100))
    }

    func testNestedCallsRunSerially() {
        setEngineThreadCount(2)
        let total = Atomic(0)
        parallelFor(8) { outer in
            for _ in outer { parallelFor(10) { inner in total.add(inner.count, ordering: .relaxed) } }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 80)
    }

    func testTwoOSThreadsAtOnce() {
        setEngineThreadCount(2)
        let failures = Atomic(0)
        func hammer() {
            for _ in 0..<300 {
                let n = 513
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: n)
                hits.initialize(repeating: 0, count: n)
                parallelFor(n) { range in for i in range { hits[i] += 1 } }
                if (0..<n).contains(where: { hits[$0] != 1 }) { failures.add(1, ordering: .relaxed) }
                hits.deallocate()
            }
        }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(hammer)).toOpaque()
        pthread_create(&thread, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box)
        hammer()
        pthread_join(thread, nil)
        XCTAssertEqual(failures.load(ordering: .relaxed), 0)
    }

    func testThreadCountIsRestoredBetweenTests() {
        XCTAssertEqual(engineThreadCount, threadsBefore)
        setEngineThreadCount(threadsBefore + 3)
        tearDown()
        XCTAssertEqual(engineThreadCount, threadsBefore)
    }
}

private final class Box {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

import Synchronization
