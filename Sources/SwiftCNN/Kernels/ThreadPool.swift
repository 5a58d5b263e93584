/// Runs `body` over 0..<count split into contiguous chunks, on up to `numThreads` threads.
/// PLACEHOLDER: serial until the persistent pool lands.
public func parallelFor(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    if count > 0 { body(0..<count) }
}

/// Number of threads the engine uses for big work (default: the number of online CPUs).
public var engineThreadCount: Int { 1 }

/// Sets the number of engine threads (>= 1).
public func setEngineThreadCount(_ n: Int) {}
