import Foundation
import RouteSpec

/// `louter toml-decode`: TOML on stdin, toml-test's tagged JSON on stdout.
///
/// The standard decoder interface, so any TOML suite can be run against our parser.
enum TOMLDecodeCommand {
  static let usage = "louter toml-decode < file.toml"

  static func run(_ arguments: [String]) -> Int32 {
    guard arguments.isEmpty else { return CommandLineInterface.usageError("toml-decode takes no arguments", usage) }
    let input = FileHandle.standardInput.readDataToEndOfFile()
    var sources = SourceMap()
    let file = sources.add(path: "<stdin>", bytes: [UInt8](input))
    do {
      let table = try TOMLParser.parse(file)
      let json = TOMLTaggedJSON.encode(table).serialized()
      FileHandle.standardOutput.write(Data((json + "\n").utf8))
      return 0
    } catch {
      let text = DiagnosticRenderer(sources: sources).render([error.diagnostic], format: .human)
      FileHandle.standardError.write(Data(text.utf8))
      return 1
    }
  }
}
