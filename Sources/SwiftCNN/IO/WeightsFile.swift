#if canImport(Glibc)
import Glibc
#endif

/// The swiftcnn weights file (format version 1, shared with the Python package's `save_weights`):
/// `b"SWIFTCNN"`, uint32 version, uint64 header length, a JSON header listing the arrays, their float32 data in
/// graph order, and a CRC-32 (zlib's) of all preceding bytes. Written to a temporary file, fsynced and renamed,
/// so an interrupted save never destroys the previous file.
public enum WeightsFile {
    static let magic: [UInt8] = Array("SWIFTCNN".utf8)
    static let version: UInt32 = 1

    /// Writes every parameter tensor of `graph` (Keras layouts, node order).
    public static func save(_ graph: Graph, to path: String) throws {
        guard graph.isBuilt else { throw SwiftCNNError.invalidState("The model is not built; there are no weights to save.") }
        var arrays: [String] = []
        for node in graph.nodes {
            for (i, shape) in node.layer.parameterShapes.enumerated() {
                arrays.append("{\"name\": \"\(node.layer.name)/\(i)\", \"shape\": [\(shape.map(String.init).joined(separator: ", "))]}")
            }
        }
        let header = Array("{\"kind\": \"weights\", \"arrays\": [\(arrays.joined(separator: ", "))]}".utf8)
        var bytes = magic
        withUnsafeBytes(of: version.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
        bytes += header
        let data = UnsafeRawBufferPointer(start: graph.parameters.pointer, count: graph.parameterCount * 4)
        var crc = crc32(bytes, 0)
        crc = crc32(data, crc)

        let tmp = path + ".tmp-\(getpid())"
        guard let file = fopen(tmp, "wb") else {
            throw SwiftCNNError.io("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        var ok = fwrite(bytes, 1, bytes.count, file) == bytes.count
        ok = ok && fwrite(data.baseAddress, 1, data.count, file) == data.count
        var trailer = crc.littleEndian
        ok = ok && fwrite(&trailer, 4, 1, file) == 1
        ok = ok && fflush(file) == 0 && fsync(fileno(file)) == 0
        fclose(file)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw SwiftCNNError.io("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads weights written by `save` (or by the Python package) into `graph`; nothing changes on any error.
    public static func load(_ graph: Graph, from path: String) throws {
        guard graph.isBuilt else { throw SwiftCNNError.invalidState("Build the model before loading weights.") }
        guard let file = fopen(path, "rb") else {
            throw SwiftCNNError.io("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        fseek(file, 0, SEEK_END)
        let size = ftell(file)
        fseek(file, 0, SEEK_SET)
        guard size >= 24 else { throw SwiftCNNError.invalidArgument("\(path) is not a swiftcnn file (too short)") }
        var bytes = [UInt8](repeating: 0, count: size)
        guard fread(&bytes, 1, size, file) == size else { throw SwiftCNNError.io("cannot read \(path)") }
        guard Array(bytes[0..<8]) == magic else {
            throw SwiftCNNError.invalidArgument("\(path) is not a swiftcnn file (bad magic number)")
        }
        let fileVersion = bytes[8..<12].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        guard fileVersion == version else {
            throw SwiftCNNError.invalidArgument("\(path) has format version \(fileVersion); this library reads version \(version)")
        }
        let stored = bytes[(size - 4)..<size].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        let computed = bytes.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[0..<(size - 4)]), 0) }
        guard stored == computed else { throw SwiftCNNError.invalidArgument("\(path) is corrupted or truncated (checksum mismatch)") }
        let headerLength = bytes[12..<20].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let dataStart = 20 + headerLength
        let dataBytes = size - 4 - dataStart
        guard headerLength >= 0, dataStart <= size - 4, dataBytes == graph.parameterCount * 4 else {
            throw SwiftCNNError.invalidArgument("\(path) holds \(max(dataBytes, 0) / 4) weight values, but the model has "
                + "\(graph.parameterCount); it was saved from a different architecture")
        }
        bytes.withUnsafeBytes { raw in
            for i in 0..<graph.parameterCount {
                graph.parameters.pointer[i] = raw.loadUnaligned(fromByteOffset: dataStart + 4 * i, as: Float.self)
            }
        }
    }

    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// zlib's CRC-32, continuing from `crc`.
    static func crc32<C: Sequence>(_ data: C, _ crc: UInt32) -> UInt32 where C.Element == UInt8 {
        var c = ~crc
        for byte in data { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }
}
