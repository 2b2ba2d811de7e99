import FoundationEssentials
import RouteSpec

/// `louter toml-decode`: TOML on stdin, toml-test's tagged JSON on stdout.
///
/// The standard decoder interface, so any TOML suite can be run against our parser.
enum TOMLDecodeCommand {
  static let usage = "louter toml-decode < file.toml"

  static func run(_ arguments: [String]) -> Int32 {
    guard arguments.isEmpty else { return CommandLineInterface.usageError("toml-decode takes no arguments", usage) }
    let input = StandardStream.readInput() ?? []
    var sources = SourceMap()
    let file = sources.add(path: "<stdin>", bytes: input)
    do {
      let table = try TOMLParser.parse(file)
      let json = TOMLTaggedJSON.encode(table).serialized()
      StandardStream.output.write(json + "\n")
      return 0
    } catch {
      let text = DiagnosticRenderer(sources: sources).render([error.diagnostic], format: .human)
      StandardStream.error.write(text)
      return 1
    }
  }
}
