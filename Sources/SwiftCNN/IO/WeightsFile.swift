#if canImport(Glibc)
import Glibc
#endif

/// The swiftcnn model and weights file, little-endian:
///
///     8 bytes  b"SWIFTCNN"
///     4 bytes  format version (uint32)
///     8 bytes  header length N (uint64)
///     N bytes  header: a UTF-8 JSON object. The caller's keys (the Python package keeps "kind", "model" and
///              "compile" there), plus the engine's: "arrays" [{"name", "shape"}…] and, when the optimizer state
///              is saved, "optimizer_state" {"slots", "iterations"}
///     …        each array's float32 data in "arrays" order: the parameter tensors in node order
///              ("<layer>/<i>"), then the optimizer's state slots ("optimizer/<s>", one float per parameter)
///     4 bytes  CRC-32 (zlib's) of all preceding bytes
///
/// Version 1 (written by earlier releases) is read too: its arrays are "weight_<i>" and "optimizer_slot_<s>" and its
/// iteration count sits in "compile"."optimizer_state"."iterations".
///
/// Writing goes to a new temporary file in the target's folder (created exclusively, so a planted link is never
/// followed; mode 0666 less the umask), fsynced and renamed over the target, then the folder is fsynced: an
/// interrupted save never destroys the previous file. Each save removes the temporaries of processes that no longer
/// exist. Reading opens only regular files, bounds every length by the file's real size before allocating, checks
/// the checksum, and checks every array against the model before anything changes.
public enum WeightsFile {
    static let magic: [UInt8] = Array("SWIFTCNN".utf8)
    /// The format version this library writes.
    public static let version: UInt32 = 2
    /// The format versions this library reads.
    public static let readableVersions: ClosedRange<UInt32> = 1...2
    /// Bytes before the header: magic, version, header length.
    static let prefixSize = 20
    /// Iteration counts above this are refused (an optimizer counts in Double and Int without overflow below it).
    static let maxIterations = 1 << 53

    /// One array of a file.
    public struct ArrayEntry: Equatable {
        /// Its name in the header ("conv2d/0", "optimizer/1"; version 1: "weight_0", "optimizer_slot_1").
        public let name: String
        /// Its shape.
        public let shape: [Int]
        /// Number of floats.
        public let count: Int
        /// Byte offset of its first float in the file.
        public let offset: Int

        /// Whether the array is an optimizer state slot rather than a parameter tensor.
        public var isOptimizerSlot: Bool { name.hasPrefix("optimizer/") || name.hasPrefix("optimizer_slot_") }
    }

    /// A file's validated header.
    public struct Header {
        /// Format version of the file.
        public let version: UInt32
        /// The header object as stored (the caller's keys and the engine's).
        public let json: JSON
        /// The header's JSON text as stored.
        public let text: String
        /// Every array, in file order.
        public let arrays: [ArrayEntry]
        /// The optimizer's update count, when the file holds optimizer state.
        public let iterations: Int?
        /// Size of the whole file in bytes.
        public let fileSize: Int
    }

    // MARK: writing

    /// Writes the parameters of `graph` (and, with `optimizer`, its state slots and update count) under the
    /// caller's `header`, a JSON object text whose keys "arrays" and "optimizer_state" the engine sets.
    public static func save(_ graph: Graph, optimizer: Optimizer? = nil, header: String = "{}", to path: String) throws {
        guard graph.isBuilt else { throw SwiftCNNError.invalidState("The model is not built; there are no weights to save.") }
        var json = try JSON.parse(header, what: "header for \(path)")
        guard case .object = json else {
            throw SwiftCNNError.invalidArgument("header for \(path): expected a JSON object, received \(header.prefix(40))")
        }
        var arrays: [JSON] = []
        for node in graph.nodes {
            for (i, shape) in node.layer.parameterShapes.enumerated() {
                arrays.append(entry("\(node.layer.name)/\(i)", shape))
            }
        }
        var blocks: [UnsafeRawBufferPointer] = [UnsafeRawBufferPointer(start: graph.parameters.pointer, count: graph.parameterCount * 4)]
        if let optimizer {
            for s in 0..<optimizer.stateSlotCount {
                arrays.append(entry("optimizer/\(s)", [graph.parameterCount]))
                blocks.append(UnsafeRawBufferPointer(start: optimizer.stateSlot(s), count: graph.parameterCount * 4))
            }
            json = json.setting("optimizer_state", .object([("slots", .number("\(optimizer.stateSlotCount)")),
                                                            ("iterations", .number("\(optimizer.iterations)"))]))
        }
        json = json.setting("arrays", .array(arrays))
        let headerBytes = Array(json.text.utf8)
        var prefix = magic
        withUnsafeBytes(of: version.littleEndian) { prefix += $0 }
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { prefix += $0 }
        prefix += headerBytes
        try writeAtomically(path) { fd in
            var crc: UInt32 = 0
            try prefix.withUnsafeBytes { raw in
                crc = crc32(raw, crc)
                try writeAll(fd, raw, path)
            }
            for block in blocks {
                crc = crc32(block, crc)
                try writeAll(fd, block, path)
            }
            var trailer = crc.littleEndian
            try withUnsafeBytes(of: &trailer) { try writeAll(fd, $0, path) }
        }
    }

    private static func entry(_ name: String, _ shape: [Int]) -> JSON {
        .object([("name", .string(name)), ("shape", .array(shape.map { .number("\($0)") }))])
    }

    /// Marks the temporary files of a save: `.<target>.swiftcnn-tmp.<pid>.<random>`.
    static let temporaryMarker = ".swiftcnn-tmp."

    /// Creates a fresh temporary file beside `path`, lets `body` fill it, fsyncs it, renames it over `path` and
    /// fsyncs the folder. On any error the temporary file is removed and `path` is untouched.
    static func writeAtomically(_ path: String, _ body: (Int32) throws -> Void) throws {
        guard !path.isEmpty, !path.hasSuffix("/") else { throw SwiftCNNError.io("cannot write '\(path)': not a file path") }
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        removeStaleTemporaries(in: folder)
        var fd: Int32 = -1
        var temporary = ""
        for _ in 0..<16 {
            let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            temporary = (slash == nil ? "" : folder + "/") + "." + base + temporaryMarker + "\(getpid())." + random
            // O_EXCL: the name must not exist, not even as a link, so nothing planted there is ever written through.
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw SwiftCNNError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
        do {
            try body(fd)
            guard fsync(fd) == 0 else { throw SwiftCNNError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
            let closed = close(fd)
            fd = -1
            guard closed == 0 else { throw SwiftCNNError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
            guard rename(temporary, path) == 0 else {
                throw SwiftCNNError.io("cannot write \(path): \(String(cString: strerror(errno)))")
            }
        } catch {
            if fd >= 0 { close(fd) }
            unlink(temporary)
            throw error
        }
        let folderFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderFD >= 0 {
            fsync(folderFD)
            close(folderFD)
        }
    }

    /// Removes the temporary files in `folder` left by saves whose process no longer exists (killed mid-save).
    static func removeStaleTemporaries(in folder: String) {
        guard let dir = opendir(folder) else { return }
        defer { closedir(dir) }
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            // ".<target>.swiftcnn-tmp.<pid>.<random hex>"
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard name.hasPrefix("."), parts.count >= 5, parts[parts.count - 3] == "swiftcnn-tmp",
                  let pid = Int32(parts[parts.count - 2]), pid > 0, pid != getpid(),
                  UInt64(parts[parts.count - 1], radix: 16) != nil else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            let full = folder + "/" + name
            var info = stat()
            guard lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            unlink(full)
        }
    }

    private static func writeAll(_ fd: Int32, _ data: UnsafeRawBufferPointer, _ path: String) throws {
        var done = 0
        while done < data.count {
            let n = write(fd, data.baseAddress! + done, min(data.count - done, 1 << 26))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SwiftCNNError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    // MARK: reading

    /// Validates a file's magic number, version, lengths and checksum and returns its header, without loading
    /// anything. Throws `SwiftCNNError.io` when the file cannot be read and `.invalidArgument` for wrong content.
    public static func readHeader(_ path: String) throws -> Header {
        var file = try ReadableFile(path)
        defer { file.close() }
        let header = try file.header()
        var crc = file.prefixCRC
        // Stream the data through the checksum in 1 MiB pieces: nothing the size of the file is allocated.
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { piece.deallocate() }
        var at = file.dataStart
        let end = header.fileSize - 4
        while at < end {
            let n = min(piece.count, end - at)
            try file.read(into: UnsafeMutableRawBufferPointer(rebasing: piece[0..<n]), at: at)
            crc = crc32(UnsafeRawBufferPointer(rebasing: piece[0..<n]), crc)
            at += n
        }
        try file.checkTrailer(crc)
        return header
    }

    /// Loads the parameters of `graph` from `path` (and, with `optimizer`, its state slots and update count when
    /// the file holds them). Every array is checked against the graph and the checksum is verified first: on any
    /// error nothing changes. Returns whether optimizer state was restored.
    @discardableResult
    public static func load(_ graph: Graph, optimizer: Optimizer? = nil, from path: String) throws -> Bool {
        guard graph.isBuilt else { throw SwiftCNNError.invalidState("Build the model before loading weights.") }
        var file = try ReadableFile(path)
        defer { file.close() }
        let header = try file.header()
        let weights = header.arrays.filter { !$0.isOptimizerSlot }, slots = header.arrays.filter(\.isOptimizerSlot)
        let expected = graph.nodes.flatMap { node in node.layer.parameterShapes.enumerated().map { (node.layer.name, $0.offset, $0.element) } }
        guard weights.count == expected.count else {
            throw SwiftCNNError.invalidArgument("\(path) holds \(weights.count) weight arrays, but the model has "
                + "\(expected.count); it was saved from a different architecture")
        }
        for (entry, (layer, index, shape)) in zip(weights, expected) where entry.shape != shape {
            throw SwiftCNNError.invalidArgument("\(path): array '\(entry.name)' has shape \(describeShape(entry.shape, batch: false)), "
                + "but weight \(index) of layer '\(layer)' has shape \(describeShape(shape, batch: false)); "
                + "the file was saved from a different architecture")
        }
        let restoreOptimizer = optimizer != nil && header.iterations != nil
        if let optimizer, restoreOptimizer {
            guard slots.count == optimizer.stateSlotCount else {
                throw SwiftCNNError.invalidArgument("\(path) holds \(slots.count) optimizer state slots, but the compiled "
                    + "optimizer (\(optimizer.kind.rawValue)) has \(optimizer.stateSlotCount)")
            }
            for slot in slots where slot.count != graph.parameterCount {
                throw SwiftCNNError.invalidArgument("\(path): optimizer slot '\(slot.name)' has \(slot.count) values, "
                    + "the model has \(graph.parameterCount) parameters")
            }
        }
        // Read everything the model takes into staging first (weights in node order, then the slots), with the
        // checksum over the whole file; arrays the model does not take only pass through the checksum.
        var stagingAt = [Int?](repeating: nil, count: header.arrays.count)
        var weightStarts: [Int] = [], slotStarts: [Int] = [], total = 0
        for (i, e) in header.arrays.enumerated() where !e.isOptimizerSlot {
            stagingAt[i] = total; weightStarts.append(total); total += e.count
        }
        if restoreOptimizer {
            for (i, e) in header.arrays.enumerated() where e.isOptimizerSlot {
                stagingAt[i] = total; slotStarts.append(total); total += e.count
            }
        }
        let staging = try FloatBuffer(count: total)
        var crc = file.prefixCRC
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { piece.deallocate() }
        for (i, e) in header.arrays.enumerated() {
            if let start = stagingAt[i] {
                let target = UnsafeMutableRawBufferPointer(start: staging.pointer + start, count: e.count * 4)
                try file.read(into: target, at: e.offset)
                crc = crc32(UnsafeRawBufferPointer(target), crc)
            } else {
                var at = e.offset
                let end = e.offset + e.count * 4
                while at < end {
                    let n = min(piece.count, end - at)
                    try file.read(into: UnsafeMutableRawBufferPointer(rebasing: piece[0..<n]), at: at)
                    crc = crc32(UnsafeRawBufferPointer(rebasing: piece[0..<n]), crc)
                    at += n
                }
            }
        }
        try file.checkTrailer(crc)
        for i in weights.indices {
            let values = staging.pointer + weightStarts[i]
            for j in 0..<weights[i].count where !values[j].isFinite {
                throw SwiftCNNError.invalidArgument("\(path): array '\(weights[i].name)' holds a non-finite value "
                    + "(\(values[j])) at flat index \(j)")
            }
        }
        // Everything checked: apply.
        graph.parameters.pointer.update(from: staging.pointer, count: graph.parameterCount)
        if let optimizer, restoreOptimizer {
            for s in 0..<slots.count {
                optimizer.stateSlot(s).update(from: staging.pointer + slotStarts[s], count: graph.parameterCount)
            }
            try optimizer.setIterations(header.iterations!)   // within 0...2^53, checked with the header
        }
        return restoreOptimizer
    }

    /// A file opened for reading: a regular file, its real size, and positioned reads that never go past it.
    struct ReadableFile {
        let path: String
        let fd: Int32
        let size: Int
        private(set) var prefixCRC: UInt32 = 0
        private(set) var dataStart = 0

        init(_ path: String) throws {
            self.path = path
            // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
            let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { throw SwiftCNNError.io("cannot read \(path): \(String(cString: strerror(errno)))") }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let message = String(cString: strerror(errno))
                Glibc.close(fd)
                throw SwiftCNNError.io("cannot read \(path): \(message)")
            }
            guard info.st_mode & S_IFMT == S_IFREG else {
                Glibc.close(fd)
                let kind: String
                switch info.st_mode & S_IFMT {
                case S_IFDIR: kind = "a directory"
                case S_IFIFO: kind = "a FIFO (named pipe)"
                case S_IFCHR: kind = "a character device"
                case S_IFBLK: kind = "a block device"
                case S_IFSOCK: kind = "a socket"
                default: kind = "not a regular file"
                }
                throw SwiftCNNError.io("cannot read \(path): it is \(kind), expected a regular swiftcnn file")
            }
            self.fd = fd
            self.size = Int(info.st_size)
        }

        func close() { Glibc.close(fd) }

        /// Reads exactly `buffer.count` bytes at `offset` (the caller has checked the range against the size).
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
            var done = 0
            while done < buffer.count {
                let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw SwiftCNNError.io("cannot read \(path): \(String(cString: strerror(errno)))") }
                guard n > 0 else { throw SwiftCNNError.invalidArgument("\(path) is truncated (it shrank while being read)") }
                done += n
            }
        }

        private func readBytes(_ count: Int, at offset: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: count)
            try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
            return bytes
        }

        /// Reads and checks the prefix and the header; every length is bounded by the file's size before use.
        mutating func header() throws -> Header {
            guard size >= WeightsFile.prefixSize + 4 else {
                throw SwiftCNNError.invalidArgument("\(path) is not a swiftcnn file (\(size) bytes: too short)")
            }
            let prefix = try readBytes(WeightsFile.prefixSize, at: 0)
            guard Array(prefix[0..<8]) == WeightsFile.magic else {
                throw SwiftCNNError.invalidArgument("\(path) is not a swiftcnn file (bad magic number)")
            }
            let version = prefix[8..<12].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard WeightsFile.readableVersions.contains(version) else {
                throw SwiftCNNError.invalidArgument("\(path) has format version \(version); this library reads versions "
                    + "\(WeightsFile.readableVersions.lowerBound) to \(WeightsFile.readableVersions.upperBound)")
            }
            let length = prefix[12..<20].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard length <= UInt64(size - WeightsFile.prefixSize - 4) else {
                throw SwiftCNNError.invalidArgument("\(path) is corrupted or truncated: its header length (\(length) bytes) "
                    + "exceeds the file (\(size) bytes)")
            }
            let headerBytes = try readBytes(Int(length), at: WeightsFile.prefixSize)
            prefixCRC = crc32(prefix, 0)
            prefixCRC = crc32(headerBytes, prefixCRC)
            dataStart = WeightsFile.prefixSize + Int(length)
            let json: JSON
            do { json = try JSON.parse(headerBytes, what: "header") } catch SwiftCNNError.invalidArgument(let why) {
                // A damaged header usually fails to parse before the checksum is reached: say what the user needs.
                throw SwiftCNNError.invalidArgument("\(path) is corrupted (\(why))")
            }
            guard case .object = json, let list = json["arrays"]?.arrayValue else {
                throw SwiftCNNError.invalidArgument("\(path): the header is not an object with an \"arrays\" list")
            }
            var arrays: [ArrayEntry] = []
            var offset = dataStart
            let dataLimit = size - 4
            for (i, item) in list.enumerated() {
                guard let name = item["name"]?.stringValue, let dims = item["shape"]?.arrayValue,
                      dims.count <= 8 else {
                    throw SwiftCNNError.invalidArgument("\(path): array \(i) of the header has no name or no shape of at most 8 dimensions")
                }
                var shape: [Int] = [], count = 1
                for d in dims {
                    guard let v = d.intValue, v >= 0 else {
                        throw SwiftCNNError.invalidArgument("\(path): array '\(name)' has an invalid dimension \(d.text)")
                    }
                    let (product, overflow) = count.multipliedReportingOverflow(by: v)
                    guard !overflow, product <= (dataLimit - offset) / 4 else {
                        throw SwiftCNNError.invalidArgument("\(path) is corrupted or truncated: array '\(name)' "
                            + "(shape \(dims.map(\.text).joined(separator: ", "))) does not fit in the file")
                    }
                    count = product
                    shape.append(v)
                }
                guard count <= (dataLimit - offset) / 4 else {
                    throw SwiftCNNError.invalidArgument("\(path) is corrupted or truncated: array '\(name)' does not fit in the file")
                }
                arrays.append(ArrayEntry(name: name, shape: shape, count: count, offset: offset))
                offset += 4 * count
            }
            guard offset == dataLimit else {
                throw SwiftCNNError.invalidArgument("\(path) is corrupted: the header lists \((offset - dataStart) / 4) values, "
                    + "but the file holds \((dataLimit - dataStart) / 4)")
            }
            // The optimizer's update count: version 2 under "optimizer_state", version 1 under "compile".
            let state = json["optimizer_state"] ?? json["compile"]?["optimizer_state"]
            var iterations: Int? = nil
            if let state, state != .null {
                guard let n = state["iterations"]?.intValue, n >= 0, n <= WeightsFile.maxIterations else {
                    throw SwiftCNNError.invalidArgument("\(path): the optimizer's iteration count "
                        + "(\(state["iterations"]?.text ?? "missing")) must be an integer in [0, 2**53]")
                }
                iterations = n
            }
            return Header(version: version, json: json, text: String(decoding: headerBytes, as: UTF8.self),
                          arrays: arrays, iterations: iterations, fileSize: size)
        }

        /// Compares the stored CRC-32 with the one computed over everything before it.
        func checkTrailer(_ crc: UInt32) throws {
            let trailer = try readBytes(4, at: size - 4)
            let stored = trailer.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard stored == crc else { throw SwiftCNNError.invalidArgument("\(path) is corrupted or truncated (checksum mismatch)") }
        }
    }

    // MARK: checksum

    /// Eight 256-entry tables for zlib's CRC-32 (polynomial 0xEDB88320), processing 8 bytes per step.
    private static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[0][n] = c
        }
        for n in 0..<256 {
            for k in 1..<8 { t[k][n] = t[0][Int(t[k - 1][n] & 0xFF)] ^ (t[k - 1][n] >> 8) }
        }
        return t
    }()

    /// zlib's CRC-32 of `data`, continuing from `crc`.
    static func crc32(_ data: UnsafeRawBufferPointer, _ crc: UInt32) -> UInt32 {
        var c = ~crc
        let t = tables
        t[0].withUnsafeBufferPointer { t0 in t[1].withUnsafeBufferPointer { t1 in t[2].withUnsafeBufferPointer { t2 in
        t[3].withUnsafeBufferPointer { t3 in t[4].withUnsafeBufferPointer { t4 in t[5].withUnsafeBufferPointer { t5 in
        t[6].withUnsafeBufferPointer { t6 in t[7].withUnsafeBufferPointer { t7 in
            var i = 0
            let n = data.count
            // Slicing-by-8: one table lookup per byte, eight independent ones per step.
            while i + 8 <= n {
                let lo = data.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
                let hi = data.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                c = t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)] ^ t5[Int((lo >> 16) & 0xFF)] ^ t4[Int(lo >> 24)]
                    ^ t3[Int(hi & 0xFF)] ^ t2[Int((hi >> 8) & 0xFF)] ^ t1[Int((hi >> 16) & 0xFF)] ^ t0[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t0[Int((c ^ UInt32(data[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }}}}}}}}
        return ~c
    }

    /// zlib's CRC-32 of `bytes`, continuing from `crc`.
    static func crc32(_ bytes: [UInt8], _ crc: UInt32) -> UInt32 { bytes.withUnsafeBytes { crc32($0, crc) } }
}
