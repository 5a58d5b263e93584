import XCTest
import SwiftCNN

/// Receptive fields and FLOPs per layer against values worked out by hand (Araujo et al.'s recurrence:
/// r += (k_eff − 1)·j, j *= s, start += ((k_eff − 1)/2 − pad_before)·j).
final class AnalysisTests: XCTestCase {
    func testStridedDilatedConvolutionsAndPooling() throws {
        let g = Graph()
        let input = try g.addInput(shape: [9, 9, 1])
        // 3×3 stride 2 valid: 9 → 4. r = 1 + 2·1 = 3, j = 2, start = 0 + 1·1 = 1.
        let a = try g.add(Conv2D(filters: 2, kernelSize: (3, 3), strides: (2, 2), name: "a"), inputs: [input])
        // 3×3 dilation 2 'same' (k_eff 5, out 4, pad 4 → 2 before): r = 3 + 4·2 = 11, j = 2, start = 1 + (2 − 2)·2 = 1.
        let b = try g.add(Conv2D(filters: 3, kernelSize: (3, 3), padding: .same, dilationRate: (2, 2), name: "b"),
                          inputs: [a])
        // 2×2 max pooling (stride 2): 4 → 2. r = 11 + 1·2 = 13, j = 4, start = 1 + 0.5·2 = 2.
        let c = try g.add(Pooling2D(mode: .max, name: "c"), inputs: [b])
        let fields = g.receptiveFields()
        XCTAssertEqual(fields[input], .pixel)
        XCTAssertEqual(fields[a], ReceptiveField(size: (3, 3), jump: (2, 2), start: (1, 1)))
        XCTAssertEqual(fields[b], ReceptiveField(size: (11, 11), jump: (2, 2), start: (1, 1)))
        XCTAssertEqual(fields[c], ReceptiveField(size: (13, 13), jump: (4, 4), start: (2, 2)))
        // a: 4·4·2 = 32 outputs, 2·9·1 each + bias = 608; b: 4·4·3 = 48 outputs, 2·9·2 each + bias = 1776;
        // c: 2·2·3 = 12 outputs, 4 each = 48.
        XCTAssertEqual(g.forwardFLOPs(input), 0)
        XCTAssertEqual(g.forwardFLOPs(a), 608)
        XCTAssertEqual(g.forwardFLOPs(b), 1776)
        XCTAssertEqual(g.forwardFLOPs(c), 48)
        XCTAssertEqual(g.totalForwardFLOPs, 608 + 1776 + 48)
    }

    func testSamePoolingAndZeroPadding() throws {
        let g = Graph()
        let input = try g.addInput(shape: [5, 6, 1])
        // 3×3 stride 2 'same' average pooling on 5 rows: out 3, pad 2·2 + 3 − 5 = 2 → 1 before:
        // r = 3, j = 2, start = 0 + (1 − 1)·1 = 0; on 6 columns: out 3, pad 1 → 0 before: start = 1.
        let p = try g.add(Pooling2D(mode: .average, poolSize: (3, 3), strides: (2, 2), padding: .same, name: "p"),
                          inputs: [input])
        // Zero padding 1 row on top and 2 columns on the left moves the first pixel back by 1 and 2 jumps.
        let z = try g.add(ZeroPadding2D(padding: (1, 1, 2, 2), name: "z"), inputs: [p])
        let conv = try g.add(Conv2D(filters: 1, kernelSize: (3, 3), useBias: false, name: "conv"), inputs: [z])
        let fields = g.receptiveFields()
        XCTAssertEqual(fields[p], ReceptiveField(size: (3, 3), jump: (2, 2), start: (0, 1)))
        XCTAssertEqual(fields[z], ReceptiveField(size: (3, 3), jump: (2, 2), start: (-2, -3)))
        // r = 3 + 2·2 = 7, start = −2 + 1·2 = 0 and −3 + 2 = −1.
        XCTAssertEqual(fields[conv], ReceptiveField(size: (7, 7), jump: (2, 2), start: (0, -1)))
        XCTAssertEqual(g.forwardFLOPs(p), 9 * 3 * 3)
        XCTAssertEqual(g.forwardFLOPs(z), 0)
        XCTAssertEqual(g.forwardFLOPs(conv), 2 * 9 * 3 * 5)   // (3 + 2 − 2) × (3 + 4 − 2) outputs, no bias
    }

    func testMergesAndVectorLayers() throws {
        let g = Graph()
        let input = try g.addInput(shape: [6, 6, 2])
        let wide = try g.add(Conv2D(filters: 4, kernelSize: (5, 5), padding: .same, name: "wide"), inputs: [input])
        let narrow = try g.add(Conv2D(filters: 4, kernelSize: (1, 1), name: "narrow"), inputs: [input])
        let sum = try g.add(Add(name: "sum"), inputs: [narrow, wide])
        let cat = try g.add(Concatenate(name: "cat"), inputs: [narrow, sum])
        let bn = try g.add(BatchNormalization(name: "bn"), inputs: [cat])
        let relu = try g.add(ActivationLayer(.relu, typeName: "ReLU", name: "relu"), inputs: [bn])
        let gap = try g.add(GlobalPooling2D(mode: .average, name: "gap"), inputs: [relu])
        let dense = try g.add(Dense(units: 3, name: "dense"), inputs: [gap])
        let fields = g.receptiveFields()
        // Merges take the widest path: the 5×5 'same' convolution (start (2 − 2)·1 = 0).
        let widest = ReceptiveField(size: (5, 5), jump: (1, 1), start: (0, 0))
        XCTAssertEqual(fields[sum], widest)
        XCTAssertEqual(fields[cat], widest)
        XCTAssertEqual(fields[relu], widest)
        XCTAssertNil(fields[gap])
        XCTAssertNil(fields[dense])
        XCTAssertEqual(g.forwardFLOPs(sum), 6 * 6 * 4)          // one addition per output for the second input
        XCTAssertEqual(g.forwardFLOPs(cat), 0)
        XCTAssertEqual(g.forwardFLOPs(bn), 2 * 6 * 6 * 8)
        XCTAssertEqual(g.forwardFLOPs(relu), 6 * 6 * 8)
        XCTAssertEqual(g.forwardFLOPs(gap), 6 * 6 * 8)
        XCTAssertEqual(g.forwardFLOPs(dense), 2 * 8 * 3 + 3)
    }

    func testPaddingIsAnEnumInTheTextConfiguration() throws {
        for (text, padding) in [("valid", Padding.valid), ("same", .same)] {
            let layer = try LayerRegistry.make(type: "Conv2D", name: "c",
                                               config: LayerConfig(layerType: "Conv2D", text: "filters=1;kernel_size=3;padding=\(text)"))
            XCTAssertEqual((layer as! Conv2D).padding, padding)
        }
        for (type, text) in [("Conv2D", "filters=1;kernel_size=3;padding=full"), ("MaxPooling2D", "padding=full"),
                             ("AveragePooling2D", "padding=full")] {
            XCTAssertThrowsError(try LayerRegistry.make(type: type, name: "x", config: LayerConfig(layerType: type, text: text))) {
                XCTAssertTrue("\($0)".contains("\(type): padding must be 'valid' or 'same', received 'full'"), "\($0)")
            }
        }
        let pool = try LayerRegistry.make(type: "GlobalMaxPooling2D", name: "g", config: LayerConfig(layerType: "GlobalMaxPooling2D", text: ""))
        XCTAssertEqual((pool as! GlobalPooling2D).mode, .max)
    }
}
