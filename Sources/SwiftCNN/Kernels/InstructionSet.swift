#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The SIMD instruction sets the GEMM micro-kernels exist for. The engine is built for AVX2 + FMA (x86-64-v3);
/// the AVX-512 kernels live in their own module and run only where the CPU (and the OS) supports AVX-512.
public enum InstructionSet: String, CaseIterable, Sendable {
    case avx2, avx512

    /// What this CPU supports, best first. Read once from the kernel's CPU flags: the OS clears the avx512 flags
    /// when it does not save the AVX-512 registers, so a flag there means the instructions are usable.
    public static let supported: [InstructionSet] = {
        let required = ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]   // what x86-64-v4 assumes
        let flags = cpuFlags()
        return required.allSatisfy(flags.contains) ? [.avx512, .avx2] : [.avx2]
    }()

    /// The kernels in use: the best supported one, unless the environment variable SWIFTCNN_ISA names another
    /// (e.g. `SWIFTCNN_ISA=avx2` to compare kernels). Changeable at run time with `setActive`.
    public static var active: InstructionSet { activeIsAVX512.load(ordering: .relaxed) ? .avx512 : .avx2 }

    /// Selects the kernels; returns false (and changes nothing) when this CPU does not support `isa`.
    @discardableResult
    public static func setActive(_ isa: InstructionSet) -> Bool {
        guard supported.contains(isa) else { return false }
        activeIsAVX512.store(isa == .avx512, ordering: .relaxed)
        return true
    }

    private static let activeIsAVX512: Atomic<Bool> = {
        var choice = supported[0]
        if let raw = getenv("SWIFTCNN_ISA"), let named = InstructionSet(rawValue: String(cString: raw).lowercased()),
           supported.contains(named) {
            choice = named
        }
        return Atomic(choice == .avx512)
    }()
}

/// The words on the first "flags" line of /proc/cpuinfo (empty where there is no such file).
private func cpuFlags() -> Set<String> {
    guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
    defer { fclose(file) }
    var line: UnsafeMutablePointer<CChar>? = nil
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0 {
        let text = String(cString: line!)
        guard text.hasPrefix("flags") else { continue }
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == ":" }).map(String.init))
    }
    return []
}
