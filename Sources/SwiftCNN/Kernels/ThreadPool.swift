#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A chunk of parallel work: `(context, lowerBound, upperBound)`. A C function pointer (a closure literal
/// without captures) plus a context pointer crosses threads without any heap allocation, which a Swift closure
/// handed to another thread cannot do.
public typealias ParallelChunk = @convention(c) (UnsafeRawPointer, Int, Int) -> Void

/// Runs `body(context, lo, hi)` over 0..<count split into contiguous chunks of at least `minChunk` items (up to two
/// per engine thread); the calling thread and the workers take chunks in turn until none is left, so a worker that
/// is asleep or descheduled (a busy, shared machine) delays the call by one chunk at most instead of stalling it.
/// Every index is covered exactly once.
///
/// Safe to enter from several OS threads: the pool serves one caller at a time, and any other caller (or a nested
/// call from inside a chunk) runs its work serially on its own thread instead of waiting. After `fork()` the child
/// starts a fresh pool (the parent's workers do not exist in the child).
public func parallelFor<Context>(_ count: Int, minChunk: Int = 1, context: Context, _ body: ParallelChunk) {
    guard count > 0 else { return }
    let threads = min(engineThreadCount, count / max(minChunk, 1))
    let chunks = min(2 * threads, count / max(minChunk, 1))
    withUnsafePointer(to: context) { pointer in
        let raw = UnsafeRawPointer(pointer)
        guard threads > 1, let pool = ThreadPool.shared(threads: threads), pool.tryAcquire() else {
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
final class ThreadPool {
    static let requestedThreads = Atomic<Int>(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1))

    private static let lock = Mutex<ThreadPool?>(nil)

    /// The pool of this process with at least `threads` − 1 workers (created or grown on demand).
    static func shared(threads: Int) -> ThreadPool? {
        lock.withLock { current in
            let pid = getpid()
            // A pool inherited through fork() has no workers in this process: leave it and start anew.
            if current == nil || current!.pid != pid { current = ThreadPool(pid: pid) }
            current!.grow(to: threads - 1)
            return current
        }
    }

    let pid: pid_t
    private let busy = Atomic<Bool>(false)
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    /// The chunks of the current job still to hand out: job ID << 32 | chunk count << 16 | next chunk. Tagged with
    /// the job, so a worker that woke late cannot take a chunk of a job it did not see published.
    private let claims = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private var workerCount = 0
    // The current job; written by the caller before `generation` is bumped, read by workers after they see it.
    private var job: ParallelChunk?
    private var jobContext: UnsafeRawPointer?
    private var jobCount = 0
    private var jobChunks = 0
    /// The generation the current job was published as; a worker runs each job at most once.
    private var jobID = 0
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
        job = body
        jobContext = context
        jobCount = count
        jobChunks = chunks
        jobID = generation.load(ordering: .relaxed) + 1
        remaining.store(chunks, ordering: .sequentiallyConsistent)
        claims.store(jobID << 32 | chunks << 16, ordering: .sequentiallyConsistent)
        generation.store(jobID, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(&mutex)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
        }
        runClaimedChunks(of: jobID)
        while remaining.load(ordering: .acquiring) > 0 { spinPause() }
        job = nil
        jobContext = nil
        busy.store(false, ordering: .releasing)
    }

    private func grow(to workers: Int) {
        while workerCount < workers {
            workerCount += 1
            // The worker starts from the generation current now: a job published before its thread is scheduled
            // must still count as new to it.
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: workerCount,
                                                               generation: generation.load(ordering: .acquiring))).toOpaque()
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

    /// Takes chunks of job `id` and runs them until none is left. A taken chunk keeps its job from finishing, so the
    /// job's parameters stay valid while it runs.
    private func runClaimedChunks(of id: Int) {
        var word = claims.load(ordering: .acquiring)
        while word >> 32 == id, word & 0xFFFF < (word >> 16) & 0xFFFF {
            let (taken, current) = claims.compareExchange(expected: word, desired: word + 1,
                                                          ordering: .acquiringAndReleasing)
            guard taken else { word = current; continue }
            if let job, let jobContext {
                let range = ThreadPool.chunk(word & 0xFFFF, of: jobChunks, count: jobCount)
                job(jobContext, range.lowerBound, range.upperBound)
            }
            remaining.subtract(1, ordering: .releasing)
            word = claims.load(ordering: .acquiring)
        }
    }

    private func workerLoop(index: Int, startGeneration: Int) {
        var seen = startGeneration
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < 200_000 {
                spinPause()
                spins += 1
            }
            if generation.load(ordering: .acquiring) == seen {
                pthread_mutex_lock(&mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(&wake, &mutex) }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(&mutex)
            }
            // The job to help with is the one the chunk counter belongs to (this generation's or a newer one);
            // taking a chunk through it makes that job's parameters visible.
            seen = generation.load(ordering: .acquiring)
            runClaimedChunks(of: claims.load(ordering: .acquiring) >> 32)
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
