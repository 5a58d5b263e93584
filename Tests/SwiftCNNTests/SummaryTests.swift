import XCTest
import SwiftCNN

/// The summary table the engine renders for every front end: Keras's look, rows grouping several nodes, the
/// "Connected to" column, totals from the engine's own counts.
final class SummaryTests: XCTestCase {
    func testNestedRowsConnectedColumnAndTotals() throws {
        let g = Graph()
        let input = try g.addInput(shape: [8, 8, 1], name: "input_layer")
        let conv = try g.add(Conv2D(filters: 4, kernelSize: (3, 3), name: "conv2d"), inputs: [input])
        let bn = try g.add(BatchNormalization(name: "batch_normalization"), inputs: [conv])
        let flat = try g.add(Flatten(name: "flatten"), inputs: [bn])
        let dense = try g.add(Dense(units: 1, name: "dense"), inputs: [flat])
        try g.build(seed: 1)
        // conv 3·3·1·4 + 4 = 40, batch normalization 4·4 = 16 (8 of them moving statistics), dense 144 + 1 = 145.
        XCTAssertEqual(g.summary(title: "m"), """
            Model: "m"
            _________________________________________________________________________________________
            Layer (type)                               Output Shape      Param #   Receptive field
            =========================================================================================
            conv2d (Conv2D)                            (None, 6, 6, 4)   40        3
            _________________________________________________________________________________________
            batch_normalization (BatchNormalization)   (None, 6, 6, 4)   16        3
            _________________________________________________________________________________________
            flatten (Flatten)                          (None, 144)       0         -
            _________________________________________________________________________________________
            dense (Dense)                              (None, 1)         145       -
            =========================================================================================
            Total params: 201
            Trainable params: 193
            Non-trainable params: 8
            _________________________________________________________________________________________

            """)
        // The base (conv + batch normalization) as one frozen row, with a "Connected to" column.
        g.setTrainable(conv, false)
        g.setTrainable(bn, false)
        let rows = try g.summaryRows(json: #"""
            [{"name": "base", "type": "Sequential", "nodes": [1, 2], "output": 2, "connected": ["input_layer"]},
             {"nodes": [3], "connected": ["base"]}, {"nodes": [4], "output": [4, 3], "connected": ["flatten"]}]
            """#)
        XCTAssertEqual(rows[0], SummaryRow(name: "base", type: "Sequential", nodes: [conv, bn], outputs: [bn], connectedTo: ["input_layer"]))
        let text = g.summary(title: "outer", rows: rows)
        XCTAssertTrue(text.contains("base (Sequential)   (None, 6, 6, 4)            56        3                 input_layer\n"), text)
        XCTAssertTrue(text.contains("dense (Dense)       [(None, 1), (None, 144)]   145       -                 flatten\n"), text)
        XCTAssertTrue(text.hasSuffix("Total params: 201\nTrainable params: 145\nNon-trainable params: 56\n"
                                     + String(repeating: "_", count: 90) + "\n"), text)
        // A node listed in two rows counts once.
        let twice = g.summary(title: "t", rows: [SummaryRow(name: "a", type: "A", nodes: [dense], outputs: [dense]),
                                                 SummaryRow(name: "b", type: "B", nodes: [dense], outputs: [dense])])
        XCTAssertTrue(twice.contains("Total params: 145\n"), twice)
    }

    func testThousandsSeparators() throws {
        let g = Graph()
        let input = try g.addInput(shape: [1000])
        _ = try g.add(Dense(units: 1000, name: "wide"), inputs: [input])
        try g.build(seed: 1)
        XCTAssertTrue(g.summary().contains("1,001,000"))
    }
}
