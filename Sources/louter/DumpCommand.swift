import FoundationEssentials
import RouteCompiler
import RouteSpec

/// `louter dump [PATH ...]`: the compiled table as JSON, secrets redacted, stable order.
enum DumpCommand {
  static let usage = "louter dump [PATH ...]"
  static let help = """
    Print the compiled route table as JSON, with every secret redacted and a stable order,
    so that a pull request can show the effective routing before and after.

    Usage: \(usage)
    """

  static func run(_ rawArguments: [String]) -> Int32 {
    let arguments: Arguments
    do {
      arguments = try Arguments(rawArguments, values: [], flags: ["-h", "--help"])
    } catch {
      return CommandLineInterface.usageError(error.message, usage)
    }
    if arguments.flag("-h") || arguments.flag("--help") {
      print(help)
      return 0
    }
    let load = ConfigurationLoad.load(
      paths: arguments.positional.isEmpty ? ["routes"] : arguments.positional, mode: .check)
    guard let table = load.table else {
      DiagnosticOutput(format: .human).print(load.diagnostics.filter { $0.severity == .error }, sources: load.sources)
      return 1
    }
    print(table.dumpJSON().serialized(pretty: true))
    return 0
  }
}

/// `louter keygen [--prefix P]`: a new random key and its `sha256:` line.
enum KeygenCommand {
  static let usage = "louter keygen [--prefix gm_|sk-|sk-ant-|...]"
  static let help = """
    Print a new client key (256 bits from the system's CSPRNG) and the sha256: line to put in
    [clients.NAME] keys = [...]. The key itself never goes into a route file.

    Usage: \(usage)
    """

  static func run(_ rawArguments: [String]) -> Int32 {
    let arguments: Arguments
    do {
      arguments = try Arguments(rawArguments, values: ["--prefix"], flags: ["-h", "--help"])
    } catch {
      return CommandLineInterface.usageError(error.message, usage)
    }
    if arguments.flag("-h") || arguments.flag("--help") {
      print(help)
      return 0
    }
    guard arguments.positional.isEmpty else {
      return CommandLineInterface.usageError("keygen takes no arguments", usage)
    }
    let prefix = arguments.value("--prefix") ?? "gm_"
    guard prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
      return CommandLineInterface.usageError("--prefix may hold only letters, digits, '_' and '-'", usage)
    }
    let key = KeyGenerator.generate(prefix: prefix)
    print("key:    \(key)")
    print("route file: keys = [\"sha256:\(SHA256.hexDigest(key))\"]")
    return 0
  }
}

/// Generates client keys.
enum KeyGenerator {
  static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

  /// `prefix` + 43 base-62 characters drawn from `SystemRandomNumberGenerator` (getrandom(2) on Linux):
  /// 43 × log2(62) ≈ 256 bits.
  static func generate(prefix: String) -> String {
    var generator = SystemRandomNumberGenerator()
    var key = prefix
    for _ in 0..<43 {
      key.append(alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))])
    }
    return key
  }
}
