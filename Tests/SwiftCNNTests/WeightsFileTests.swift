import XCTest
@testable import SwiftCNN

/// The model file: round trips (weights, optimizer state, the caller's header), version 1 files, and files that
/// cannot be turned against the user (links, FIFOs, devices, directories, lying lengths, killed saves).
final class WeightsFileTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = "/tmp/swiftcnn-weights-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(mkdir(folder, 0o755), 0)
    }

    override func tearDown() {
        if let dir = opendir(folder) {
            while let item = readdir(dir) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
                if name != "." && name != ".." { unlink(folder + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(folder)
    }

    func makeModel(seed: UInt64, optimizer: Optimizer = Optimizer(kind: .adam)) throws -> Sequential {
        let model = try Sequential(inputShape: [6, 6, 1], layers: [Conv2D(filters: 2, kernelSize: (3, 3)),
                                                                    BatchNormalization(), Flatten(), Dense(units: 3)], seed: seed)
        try model.compile(optimizer: optimizer, loss: .meanSquaredError)
        return model
    }

    func parameters(_ g: Graph) -> [Float] { Array(UnsafeBufferPointer(start: g.parameters.pointer, count: g.parameterCount)) }

    func files() -> [String] {
        var names: [String] = []
        guard let dir = opendir(folder) else { return [] }
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        return names.sorted()
    }

    func trainOnce(_ m: Sequential) throws {
        let x = Tensor(shape: [4, 6, 6, 1], values: (0..<144).map { Float($0 % 7) / 7 }), y = Tensor(shape: [4, 3])
        _ = try m.trainStep(x: x.data, y: y.data, batch: 4)
    }

    func testRoundTripWithOptimizerStateAndTheCallersHeader() throws {
        let path = folder + "/model.scnn"
        let a = try makeModel(seed: 1)
        try trainOnce(a)
        try trainOnce(a)
        try WeightsFile.save(a.graph, optimizer: a.model.optimizer, header: #"{"kind": "model", "model": {"layers": [1, 2.5e-3, "é\n"]}}"#, to: path)
        let header = try WeightsFile.readHeader(path)
        XCTAssertEqual(header.version, 2)
        XCTAssertEqual(header.json["kind"], .string("model"))
        XCTAssertEqual(header.json["model"], try JSON.parse(#"{"layers": [1, 2.5e-3, "é\n"]}"#, what: "test"))
        XCTAssertEqual(header.arrays.map(\.name), ["conv2d/0", "conv2d/1", "batchnormalization/0", "batchnormalization/1",
                                                   "batchnormalization/2", "batchnormalization/3", "dense/0", "dense/1",
                                                   "optimizer/0", "optimizer/1"])
        XCTAssertEqual(header.arrays[0].shape, [3, 3, 1, 2])
        XCTAssertEqual(header.iterations, 2)

        let b = try makeModel(seed: 2)
        XCTAssertNotEqual(parameters(b.graph), parameters(a.graph))
        XCTAssertTrue(try WeightsFile.load(b.graph, optimizer: b.model.optimizer, from: path))
        XCTAssertEqual(parameters(b.graph), parameters(a.graph))
        XCTAssertEqual(b.model.optimizer!.iterations, 2)
        for s in 0..<2 {
            XCTAssertEqual(Array(UnsafeBufferPointer(start: b.model.optimizer!.stateSlot(s), count: a.graph.parameterCount)),
                           Array(UnsafeBufferPointer(start: a.model.optimizer!.stateSlot(s), count: a.graph.parameterCount)))
        }
        // Training continues identically.
        try trainOnce(a)
        try trainOnce(b)
        XCTAssertEqual(parameters(b.graph), parameters(a.graph))

        // Weights only: the optimizer is not touched.
        let c = try makeModel(seed: 3)
        XCTAssertFalse(try WeightsFile.load(c.graph, from: path))
        XCTAssertEqual(c.model.optimizer!.iterations, 0)
        // An optimizer with another number of slots is refused before anything changes.
        let d = try makeModel(seed: 4, optimizer: Optimizer(kind: .sgd))
        let before = parameters(d.graph)
        XCTAssertThrowsError(try WeightsFile.load(d.graph, optimizer: d.model.optimizer, from: path)) {
            XCTAssertTrue("\($0)".contains("2 optimizer state slots"), "\($0)")
        }
        XCTAssertEqual(parameters(d.graph), before)
        XCTAssertEqual(files(), ["model.scnn"])
    }

    func testOtherArchitectureTruncationAndMissingFiles() throws {
        let path = folder + "/w.scnn"
        let a = try makeModel(seed: 1)
        try WeightsFile.save(a.graph, to: path)
        let other = try Sequential(inputShape: [6, 6, 1], layers: [Flatten(), Dense(units: 3)])
        try other.compile(optimizer: Optimizer(kind: .sgd), loss: .meanSquaredError)
        XCTAssertThrowsError(try WeightsFile.load(other.graph, from: path)) { XCTAssertTrue("\($0)".contains("different architecture")) }
        let wider = try Sequential(inputShape: [6, 6, 1], layers: [Conv2D(filters: 3, kernelSize: (3, 3)), BatchNormalization(),
                                                                    Flatten(), Dense(units: 3)])
        try wider.compile(optimizer: Optimizer(kind: .sgd), loss: .meanSquaredError)
        XCTAssertThrowsError(try WeightsFile.load(wider.graph, from: path)) { XCTAssertTrue("\($0)".contains("has shape (3, 3, 1, 2)"), "\($0)") }
        var info = stat()
        stat(path, &info)
        for size in [0, 10, 23, 50, Int(info.st_size) - 1] {
            truncate(path, off_t(size))
            XCTAssertThrowsError(try WeightsFile.readHeader(path), "size \(size)")
            XCTAssertThrowsError(try WeightsFile.load(a.graph, from: path), "size \(size)")
        }
        XCTAssertThrowsError(try WeightsFile.load(a.graph, from: folder + "/missing.scnn")) {
            guard case SwiftCNNError.io = $0 else { return XCTFail("\($0)") }
        }
    }

    /// Writes a file with a chosen header length field and header text, and a correct CRC.
    func craft(_ path: String, length: UInt64?, header: String, data: [Float] = []) {
        var bytes = Array("SWIFTCNN".utf8)
        withUnsafeBytes(of: UInt32(2).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8)
        data.withUnsafeBytes { bytes += $0 }
        let crc = WeightsFile.crc32(bytes, 0)
        withUnsafeBytes(of: crc.littleEndian) { bytes += $0 }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    func testLengthsAreBoundedByTheFileSize() throws {
        let path = folder + "/crafted.scnn"
        let a = try makeModel(seed: 1)
        for length: UInt64 in [1 << 63, UInt64.max, UInt64.max - 3, 1 << 40] {
            craft(path, length: length, header: #"{"arrays": []}"#)
            XCTAssertThrowsError(try WeightsFile.readHeader(path)) { XCTAssertTrue("\($0)".contains("exceeds the file"), "\($0)") }
        }
        // An array whose shape claims more floats than the file holds, or whose product overflows.
        for shape in ["[1000000000]", "[4611686018427387904, 4]", "[3037000500, 3037000500]", "[-1]", "[1.5]"] {
            craft(path, length: nil, header: #"{"arrays": [{"name": "a", "shape": \#(shape)}]}"#, data: [1, 2])
            XCTAssertThrowsError(try WeightsFile.readHeader(path), shape)
        }
        // Iteration counts outside [0, 2**53].
        for count in ["9223372036854775807", "-1", "1e3", "\"7\""] {
            craft(path, length: nil, header: #"{"arrays": [], "optimizer_state": {"slots": 0, "iterations": \#(count)}}"#)
            XCTAssertThrowsError(try WeightsFile.readHeader(path), count) { XCTAssertTrue("\($0)".contains("iteration count"), "\($0)") }
        }
        // Headers that are not JSON objects with an arrays list, or have duplicate keys.
        for text in ["[]", "{", #"{"arrays": 3}"#, #"{"arrays": [], "arrays": []}"#, String(repeating: "[", count: 5000)] {
            craft(path, length: nil, header: text)
            XCTAssertThrowsError(try WeightsFile.readHeader(path), text)
        }
        XCTAssertThrowsError(try WeightsFile.load(a.graph, from: path))
    }

    func testOnlyRegularFilesAreRead() throws {
        let fifo = folder + "/fifo.scnn"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for (path, kind) in [(fifo, "FIFO"), (folder, "directory"), ("/dev/zero", "character device"), ("/dev/null", "character device")] {
            XCTAssertThrowsError(try WeightsFile.readHeader(path), path) {
                guard case SwiftCNNError.io(let message) = $0 else { return XCTFail("\($0)") }
                XCTAssertTrue(message.contains(kind), message)
            }
        }
    }

    func testAPlantedLinkIsNeverFollowedAndModesFollowTheUmask() throws {
        let path = folder + "/model.scnn", victim = folder + "/victim.txt"
        let fd = open(victim, O_WRONLY | O_CREAT, 0o644)
        _ = write(fd, "keep", 4)
        close(fd)
        // A link at the target is replaced by the new file (rename), not written through.
        XCTAssertEqual(symlink(victim, path), 0)
        let a = try makeModel(seed: 1)
        let old = umask(0o027)
        defer { umask(old) }
        try WeightsFile.save(a.graph, to: path)
        var info = stat()
        XCTAssertEqual(lstat(path, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFREG)
        XCTAssertEqual(info.st_mode & 0o777, 0o640)
        XCTAssertEqual(stat(victim, &info), 0)
        XCTAssertEqual(info.st_size, 4)
        // A link planted where a temporary would go cannot be hit: names are random and created with O_EXCL.
        try WeightsFile.writeAtomically(folder + "/other.scnn") { fd in _ = write(fd, "x", 1) }
        XCTAssertEqual(files(), ["model.scnn", "other.scnn", "victim.txt"])
    }

    func testStaleTemporariesOfDeadProcessesAreRemoved() throws {
        // A process that has exited: its pid is free (until reused, when the file is simply kept).
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        XCTAssertEqual(posix_spawn(&pid, "/bin/true", nil, nil, &argv, nil), 0)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        free(argv[0])
        let stale = folder + "/.model.scnn.swiftcnn-tmp.\(pid).1f2e3d"
        let live = folder + "/.model.scnn.swiftcnn-tmp.\(getppid()).abc"      // the test runner's parent is alive
        let foreign = folder + "/.model.scnn.tmp-\(pid)"                      // not ours: kept
        for p in [stale, live, foreign] { close(open(p, O_WRONLY | O_CREAT, 0o644)) }
        let a = try makeModel(seed: 1)
        try WeightsFile.save(a.graph, to: folder + "/model.scnn")
        XCTAssertEqual(files(), [".model.scnn.swiftcnn-tmp.\(getppid()).abc", ".model.scnn.tmp-\(pid)", "model.scnn"])
    }

    /// Files written by version 1 of the format (the Python package's `save_model`) load, optimizer state included.
    func testVersion1FilesLoad() throws {
        let a = try makeModel(seed: 1)
        try trainOnce(a)
        let g = a.graph, opt = a.model.optimizer!
        var arrays: [String] = [], data: [Float] = []
        var k = 0
        for node in g.nodes {
            for (i, shape) in node.layer.parameterShapes.enumerated() {
                arrays.append(#"{"name": "weight_\#(k)", "shape": [\#(shape.map(String.init).joined(separator: ", "))]}"#)
                data += Array(UnsafeBufferPointer(start: g.parameterPointers(node)[i], count: shape.reduce(1, *)))
                k += 1
            }
        }
        for s in 0..<2 {
            arrays.append(#"{"name": "optimizer_slot_\#(s)", "shape": [\#(g.parameterCount)]}"#)
            data += Array(UnsafeBufferPointer(start: opt.stateSlot(s), count: g.parameterCount))
        }
        let header = #"{"kind": "model", "model": {}, "compile": {"loss": "mse", "metric": null, "optimizer": {}, "#
            + #""optimizer_state": {"slots": 2, "iterations": 1}}, "arrays": [\#(arrays.joined(separator: ", "))]}"#
        var bytes = Array("SWIFTCNN".utf8)
        withUnsafeBytes(of: UInt32(1).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8)
        data.withUnsafeBytes { bytes += $0 }
        withUnsafeBytes(of: WeightsFile.crc32(bytes, 0).littleEndian) { bytes += $0 }
        let path = folder + "/v1.scnn"
        let fd = open(path, O_WRONLY | O_CREAT, 0o644)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        XCTAssertEqual(try WeightsFile.readHeader(path).version, 1)
        let b = try makeModel(seed: 2)
        XCTAssertTrue(try WeightsFile.load(b.graph, optimizer: b.model.optimizer, from: path))
        XCTAssertEqual(parameters(b.graph), parameters(a.graph))
        XCTAssertEqual(b.model.optimizer!.iterations, 1)
    }

    /// A model without parameters, and an optimizer without state slots (plain SGD): only the count is restored.
    func testNoParametersAndNoSlots() throws {
        let path = folder + "/empty.scnn"
        let empty = try Sequential(inputShape: [4, 4, 1], layers: [Flatten()])
        try empty.compile(optimizer: Optimizer(kind: .sgd), loss: .meanSquaredError)
        try WeightsFile.save(empty.graph, optimizer: empty.model.optimizer, to: path)
        XCTAssertEqual(try WeightsFile.readHeader(path).arrays, [])
        XCTAssertTrue(try WeightsFile.load(empty.graph, optimizer: empty.model.optimizer, from: path))
        let a = try makeModel(seed: 1, optimizer: Optimizer(kind: .sgd)), b = try makeModel(seed: 2, optimizer: Optimizer(kind: .sgd))
        try trainOnce(a)
        try WeightsFile.save(a.graph, optimizer: a.model.optimizer, to: path)
        XCTAssertTrue(try WeightsFile.load(b.graph, optimizer: b.model.optimizer, from: path))
        XCTAssertEqual(b.model.optimizer!.iterations, 1)
        XCTAssertEqual(parameters(b.graph), parameters(a.graph))
    }

    func testCRCMatchesZlib() {
        // zlib.crc32(b"123456789") == 0xCBF43926; and split calls continue the same checksum.
        let bytes = Array("123456789".utf8)
        XCTAssertEqual(WeightsFile.crc32(bytes, 0), 0xCBF4_3926)
        XCTAssertEqual(WeightsFile.crc32(Array(bytes[5...]), WeightsFile.crc32(Array(bytes[..<5]), 0)), 0xCBF4_3926)
    }
}
