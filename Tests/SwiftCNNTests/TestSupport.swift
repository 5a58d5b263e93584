import XCTest
import SwiftCNN

/// Runs `body` once with each instruction set this CPU supports (AVX2 always; AVX-512 where present), so both
/// builds of the shared micro-kernel source are checked on an AVX-512 machine.
func forEachInstructionSet(_ body: (InstructionSet) throws -> Void) rethrows {
    let saved = InstructionSet.active
    defer { InstructionSet.setActive(saved) }
    for isa in InstructionSet.supported {
        XCTAssertTrue(InstructionSet.setActive(isa))
        try body(isa)
    }
}
