#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A chunk of parallel work: `(context, lowerBound, upperBound)`. A C function pointer (a closure literal
/// without captures) plus a context pointer crosses threads without any heap allocation, which a Swift closure
/// handed to another thread cannot do.
public typealias ParallelChunk = @convention(c) (UnsafeRawPointer, Int, Int) -> Void

/// Runs `body(context, lo, hi)` over 0..<count split into contiguous chunks of at least `minChunk` items, one chunk
/// per engine thread; the calling thread runs the first chunk. Every index is covered exactly once.
///
/// Safe to enter from several OS threads: the pool serves one caller at a time, and any other caller (or a nested
/// call from inside a chunk) runs its work serially on its own thread instead of waiting. After `fork()` the child
/// starts a fresh pool (the parent's workers do not exist in the child).
public func parallelFor<Context>(_ count: Int, minChunk: Int = 1, context: Context, _ body: ParallelChunk) {
    guard count > 0 else { return }
    let chunks = min(engineThreadCount, count / max(minChunk, 1))
    withUnsafePointer(to: context) { pointer in
        let raw = UnsafeRawPointer(pointer)
        guard chunks > 1, let pool = ThreadPool.shared(threads: chunks), pool.tryAcquire() else {
            body(raw, 0, count)
            return
        }
        pool.run(count: count, chunks: chunks, context: raw, body)
    }
}

/// Closure form for code off the hot path (it may allocate the closure's context once per call).
public func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    withoutActuallyEscaping(body) { escapable in
        parallelFor(count, minChunk: minChunk, context: escapable) { context, lo, hi in
            context.assumingMemoryBound(to: ((Range<Int>) -> Void).self).pointee(lo..<hi)
        }
    }
}

/// Number of threads the engine uses for big work (default: the number of online CPUs).
public var engineThreadCount: Int { ThreadPool.requestedThreads.load(ordering: .relaxed) }

/// Sets the number of engine threads (>= 1).
public func setEngineThreadCount(_ n: Int) { ThreadPool.requestedThreads.store(max(n, 1), ordering: .relaxed) }

/// A persistent pool of worker threads that spin briefly for work (fork/join in well under a microsecond when
/// busy) and then sleep on a condition variable, so an idle library costs no CPU.
///
/// Job hand-off is a sequence lock: the caller makes `generation` odd, stores the job's fields (all atomics),
/// and makes it even again to publish. A worker reads the fields between two loads of the same even generation,
/// so it never acts on a half-written job; a worker that owns a chunk holds the caller in `run` until it has
/// counted its chunk done, so the fields cannot change under it. No plain memory is shared between threads.
final class ThreadPool {
    static let requestedThreads = Atomic<Int>(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1))

    /// Guards `current`. A pthread mutex rather than `Mutex`, so that the child of a fork() can re-create it.
    private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        // fork() while another thread creates or grows the pool would leave the child with the lock taken by a
        // thread it does not have. The child starts a fresh pool anyway (see `shared`), so it starts a fresh lock.
        // (Not held across fork in the parent: a thread inside a model call may need it to finish the call that
        // the model's own fork handler waits for.)
        pthread_atfork(nil, nil, { pthread_mutex_init(ThreadPool.lock, nil) })
        return m
    }()
    nonisolated(unsafe) private static var current: ThreadPool?

    /// The pool of this process with at least `threads` − 1 workers (created or grown on demand).
    static func shared(threads: Int) -> ThreadPool? {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        let pid = getpid()
        // A pool inherited through fork() has no workers in this process: leave it and start anew.
        if current == nil || current!.pid != pid { current = ThreadPool(pid: pid) }
        current!.grow(to: threads - 1)
        return current
    }

    let pid: pid_t
    private let busy = Atomic<Bool>(false)
    /// Odd while the caller writes a job, even once it is published; a worker runs each even generation once.
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private var workerCount = 0   // only touched under `ThreadPool.lock`
    // The current job (bit patterns of the function and context pointers, the item count and chunk count).
    private let jobFunction = Atomic<Int>(0)
    private let jobContext = Atomic<Int>(0)
    private let jobCount = Atomic<Int>(0)
    private let jobChunks = Atomic<Int>(0)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()

    private init(pid: pid_t) {
        self.pid = pid
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
    }

    func tryAcquire() -> Bool {
        busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    /// Range of chunk `i` of `chunks` equal parts of 0..<count.
    @inline(__always)
    private static func chunk(_ i: Int, of chunks: Int, count: Int) -> Range<Int> {
        (count * i / chunks)..<(count * (i + 1) / chunks)
    }

    /// Runs a job while holding the pool (after `tryAcquire`); returns when every chunk is done.
    func run(count: Int, chunks: Int, context: UnsafeRawPointer, _ body: ParallelChunk) {
        let published = generation.load(ordering: .relaxed) + 2
        generation.store(published - 1, ordering: .relaxed)   // odd: being written
        atomicMemoryFence(ordering: .releasing)               // ...before any field changes
        jobFunction.store(unsafeBitCast(body, to: Int.self), ordering: .relaxed)
        jobContext.store(Int(bitPattern: context), ordering: .relaxed)
        jobCount.store(count, ordering: .relaxed)
        jobChunks.store(chunks, ordering: .relaxed)
        remaining.store(chunks - 1, ordering: .relaxed)
        generation.store(published, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(&mutex)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
        }
        let first = ThreadPool.chunk(0, of: chunks, count: count)
        body(context, first.lowerBound, first.upperBound)
        while remaining.load(ordering: .acquiring) > 0 { spinPause() }
        busy.store(false, ordering: .releasing)
    }

    private func grow(to workers: Int) {
        while workerCount < workers {
            workerCount += 1
            // The worker starts from the generation current now: a job already running belongs to the workers
            // it was split for (its chunks count was fixed before this worker existed).
            let start = generation.load(ordering: .acquiring) | 1   // odd: the next published job is new to it
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: workerCount, generation: start)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workerLoop(index: context.index, startGeneration: context.generation)
                return nil
            }, context)
            if status == 0 {
                pthread_detach(thread)
            } else {
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                workerCount -= 1
                return
            }
        }
    }

    /// Waits until `generation` differs from `seen`: spins first, then sleeps on the condition variable.
    private func waitForChange(from seen: Int) {
        var spins = 0
        while generation.load(ordering: .acquiring) == seen && spins < 200_000 {
            spinPause()
            spins += 1
        }
        guard generation.load(ordering: .acquiring) == seen else { return }
        pthread_mutex_lock(&mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(&wake, &mutex) }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(&mutex)
    }

    private func workerLoop(index: Int, startGeneration: Int) {
        // `seen`: the last generation this worker has handled (or started from).
        var seen = startGeneration
        while true {
            waitForChange(from: seen)
            let before = generation.load(ordering: .acquiring)
            if before & 1 == 1 { continue }   // being written: look again
            let function = jobFunction.load(ordering: .acquiring), context = jobContext.load(ordering: .acquiring)
            let count = jobCount.load(ordering: .acquiring), chunks = jobChunks.load(ordering: .acquiring)
            guard generation.load(ordering: .acquiring) == before else { continue }   // changed while reading
            seen = before
            guard index < chunks, let raw = UnsafeRawPointer(bitPattern: context) else { continue }
            let range = ThreadPool.chunk(index, of: chunks, count: count)
            unsafeBitCast(function, to: ParallelChunk.self)(raw, range.lowerBound, range.upperBound)
            remaining.subtract(1, ordering: .releasing)
        }
    }
}

private final class WorkerContext {
    let pool: ThreadPool
    let index: Int
    let generation: Int
    init(pool: ThreadPool, index: Int, generation: Int) {
        self.pool = pool
        self.index = index
        self.generation = generation
    }
}

/// Busy-wait step: an atomic re-load is all the loop needs; kept as a function to mark the spin sites.
@inline(__always)
private func spinPause() {}

/// Hands out the items of one parallel pass to whichever thread asks next, so a thread slowed down (another
/// process on its core) takes fewer of them instead of keeping the others waiting at the join. The caller resets
/// it before `parallelFor`; the pool's hand-off orders the reset before any claim.
public final class WorkCounter {
    private let next = Atomic<Int>(0)
    public init() {}
    public func reset() { next.store(0, ordering: .relaxed) }
    /// The next unclaimed item (items past the pass's count mean: done).
    public func claim() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// The items of a pass that one thread claims from a `WorkCounter`, in the order it gets them.
public struct ClaimedItems: Sequence, IteratorProtocol {
    let counter: WorkCounter
    let items: Int

    public init(counter: WorkCounter, items: Int) { self.counter = counter; self.items = items }

    public mutating func next() -> Int? {
        let item = counter.claim()
        return item < items ? item : nil
    }
}
