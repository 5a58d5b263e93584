import SwiftCNN
#if canImport(Glibc)
import Glibc
#endif

/// What a `scnn_model *` points to: the graph, its training state, and a lock so that calls on one model from
/// two threads run one after the other.
final class ModelHandle {
    let graph = Graph()
    lazy var model = Model(graph: graph)
    /// Whether gradients from scnn_model_backward_from are available to read.
    var didBackward = false
    private var mutex = pthread_mutex_t()

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    func lock() { pthread_mutex_lock(&mutex) }
    func unlock() { pthread_mutex_unlock(&mutex) }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

/// Live handles, so that a freed or foreign pointer is reported instead of dereferenced.
private var liveHandles = Set<UnsafeMutableRawPointer>()
private var registryMutex = pthread_mutex_t()
private let registryReady: Bool = {
    pthread_mutex_init(&registryMutex, nil)
    pthread_atfork(prepareFork, resumeAfterFork, resumeAfterFork)
    return true
}()

/// Handles whose locks the fork handlers hold across fork().
nonisolated(unsafe) private var handlesHeldForFork: [ModelHandle] = []

/// fork() while another thread is inside a call would copy a model lock that no thread of the child can release,
/// and a model in the middle of a step. So fork waits for calls in progress to finish: it takes the registry lock
/// and every model's lock, and both processes release them afterwards. The child's thread pool starts afresh.
private func prepareFork() {
    pthread_mutex_lock(&registryMutex)
    handlesHeldForFork = liveHandles.map { Unmanaged<ModelHandle>.fromOpaque($0).takeUnretainedValue() }
    for handle in handlesHeldForFork { handle.lock() }
}

private func resumeAfterFork() {
    for handle in handlesHeldForFork { handle.unlock() }
    handlesHeldForFork = []
    pthread_mutex_unlock(&registryMutex)
}

private func withRegistry<T>(_ body: () throws -> T) rethrows -> T {
    _ = registryReady
    pthread_mutex_lock(&registryMutex)
    defer { pthread_mutex_unlock(&registryMutex) }
    return try body()
}

func registerHandle(_ handle: ModelHandle) -> OpaquePointer {
    _ = registryReady
    let raw = Unmanaged.passRetained(handle).toOpaque()
    withRegistry { _ = liveHandles.insert(raw) }
    return OpaquePointer(raw)
}

/// Removes a handle from the registry and releases it; false if it was not live.
func releaseHandle(_ pointer: OpaquePointer) -> Bool {
    let raw = UnsafeMutableRawPointer(pointer)
    let wasLive = withRegistry { liveHandles.remove(raw) != nil }
    if wasLive { Unmanaged<ModelHandle>.fromOpaque(raw).release() }
    return wasLive
}

/// Runs `body` with the model behind `pointer`, holding its lock; throws if the handle is not live.
func withModel<T>(_ pointer: OpaquePointer?, _ body: (ModelHandle) throws -> T) throws -> T {
    let raw = UnsafeMutableRawPointer(try required(pointer, "model"))
    let handle: ModelHandle? = withRegistry {
        liveHandles.contains(raw) ? Unmanaged<ModelHandle>.fromOpaque(raw).retain().takeUnretainedValue() : nil
    }
    guard let handle else { throw SwiftCNNError.invalidArgument("model handle is not a live swiftcnn model (already freed?)") }
    defer { Unmanaged.passUnretained(handle).release() }
    return try handle.locked { try body(handle) }
}

/// Validates a node index of a model.
func requireNode(_ graph: Graph, _ node: Int32) throws -> Int {
    guard node >= 0, Int(node) < graph.nodes.count else {
        throw SwiftCNNError.invalidArgument("node \(node) does not exist (the model has \(graph.nodes.count) nodes)")
    }
    return Int(node)
}

func requireBuilt(_ graph: Graph) throws {
    guard graph.isBuilt else { throw SwiftCNNError.invalidState("The model is not built yet (call scnn_model_build).") }
}
