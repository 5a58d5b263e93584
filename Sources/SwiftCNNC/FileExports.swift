import SwiftCNN

// Model files and the summary table: the engine owns both formats; callers pass their own header keys and rows.

/// Copies `text` and a NUL into `out` when `capacity` allows; always reports the bytes needed.
private func copyText(_ text: String, _ out: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                      _ needed: UnsafeMutablePointer<Int64>?) throws {
    let needed = try required(needed, "needed")
    guard capacity >= 0 else { throw SwiftCNNError.invalidArgument("capacity must be >= 0, received \(capacity)") }
    let bytes = Array(text.utf8)
    needed.pointee = Int64(bytes.count + 1)
    guard capacity >= Int64(bytes.count + 1) else { return }
    let out = try required(out, "out")
    bytes.withUnsafeBufferPointer { src in
        UnsafeMutableRawPointer(out).copyMemory(from: src.baseAddress!, byteCount: bytes.count)
    }
    out[bytes.count] = 0
}

/// Writes the model file under the caller's JSON header (see swiftcnn.h).
@_cdecl("scnn_model_save")
public func scnn_model_save(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ header: UnsafePointer<CChar>?,
                            _ includeOptimizer: Int32) -> Int32 {
    guarded("scnn_model_save") {
        let path = try string(path, "path"), header = try string(header, "header_json")
        try withModel(model) { h in
            try WeightsFile.save(h.graph, optimizer: includeOptimizer != 0 ? h.model.optimizer : nil, header: header, to: path)
        }
    }
}

/// Validates a model file and copies out its header JSON without loading it.
@_cdecl("scnn_file_read_header")
public func scnn_file_read_header(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                                  _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("scnn_file_read_header") {
        let path = try string(path, "path")
        _ = try required(needed, "needed")
        try copyText(try WeightsFile.readHeader(path).text, out, capacity, needed)
    }
}

/// Loads a model file into the model, all or nothing, optionally with the optimizer state.
@_cdecl("scnn_model_load")
public func scnn_model_load(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ includeOptimizer: Int32,
                            _ optimizerRestored: UnsafeMutablePointer<Int32>?) -> Int32 {
    guarded("scnn_model_load") {
        let path = try string(path, "path")
        try withModel(model) { h in
            let restored = try WeightsFile.load(h.graph, optimizer: includeOptimizer != 0 ? h.model.optimizer : nil, from: path)
            optimizerRestored?.pointee = restored ? 1 : 0
        }
    }
}

/// Renders the Keras summary table for caller-given rows (or one row per layer).
@_cdecl("scnn_model_summary")
public func scnn_model_summary(_ model: OpaquePointer?, _ title: UnsafePointer<CChar>?, _ rows: UnsafePointer<CChar>?,
                               _ out: UnsafeMutablePointer<CChar>?, _ capacity: Int64,
                               _ needed: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded("scnn_model_summary") {
        let title = try string(title, "title")
        let rowsText = rows.map { String(cString: $0) } ?? ""
        _ = try required(needed, "needed")
        try withModel(model) { h in
            let parsed = rowsText.isEmpty ? nil : try h.graph.summaryRows(json: rowsText)
            try copyText(h.graph.summary(title: title, rows: parsed), out, capacity, needed)
        }
    }
}
