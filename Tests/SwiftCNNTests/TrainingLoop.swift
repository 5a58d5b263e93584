import SwiftCNN

/// The short loop a Swift program writes around `Sequential.trainStep`: epochs of shuffled mini-batches.
/// Returns the mean loss of each epoch.
@discardableResult
func train(_ model: Sequential, x: Tensor, y: Tensor, batchSize: Int, epochs: Int, seed: UInt64 = 0) throws -> [Double] {
    let n = x.shape[0], xSize = x.count / n, ySize = y.count / n
    let xBatch = Tensor(shape: [batchSize * xSize]), yBatch = Tensor(shape: [batchSize * ySize])
    var losses: [Double] = []
    for epoch in 0..<epochs {
        var rng = RNG(seed: seed, stream: UInt64(epoch) &+ 1)
        let order = rng.permutation(n)
        var sum = 0.0
        for start in stride(from: 0, to: n, by: batchSize) {
            let count = min(batchSize, n - start)
            for (row, sample) in order[start..<(start + count)].enumerated() {
                (xBatch.data + row * xSize).update(from: x.data + sample * xSize, count: xSize)
                (yBatch.data + row * ySize).update(from: y.data + sample * ySize, count: ySize)
            }
            sum += try model.trainStep(x: xBatch.data, y: yBatch.data, batch: count).loss * Double(count)
        }
        losses.append(sum / Double(n))
    }
    return losses
}

/// Mean loss and metric over every sample, in inference mode.
func evaluate(_ model: Sequential, x: Tensor, y: Tensor, batchSize: Int = 32) throws -> (loss: Double, metric: Double) {
    let n = x.shape[0], xSize = x.count / n, ySize = y.count / n
    var loss = 0.0, metric = 0.0
    for start in stride(from: 0, to: n, by: batchSize) {
        let count = min(batchSize, n - start)
        let r = try model.testStep(x: x.data + start * xSize, y: y.data + start * ySize, batch: count)
        loss += r.loss * Double(count)
        metric += r.metric * Double(count)
    }
    return (loss / Double(n), metric / Double(n))
}
