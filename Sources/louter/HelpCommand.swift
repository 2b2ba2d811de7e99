import FoundationEssentials
import RouteSpec

/// `louter help [COMMAND]`.
enum HelpCommand {
  static let topics: [String: String] = [
    "check": CheckCommand.help,
    "serve": ServeCommand.help,
    "explain": ExplainCommand.help,
    "dump": DumpCommand.help,
    "diff": DiffCommand.help,
    "schema": SchemaCommand.help,
    "keygen": KeygenCommand.help,
    "toml-decode":
      "TOML on stdin, toml-test tagged JSON on stdout; exit 1 with a diagnostic on invalid input.\n\nUsage: \(TOMLDecodeCommand.usage)",
  ]

  static func run(_ arguments: [String]) -> Int32 {
    guard let topic = arguments.first else {
      print(CommandLineInterface.overview)
      return 0
    }
    if topic == "codes" {
      // The catalogue of every diagnostic, with its stable code and default severity.
      for code in DiagnosticCode.allCases {
        print(
          "\(code.rawValue)  \(code.defaultSeverity.rawValue.padded(toWidth: 7))  \(code.summary)"
        )
      }
      return 0
    }
    guard let text = topics[topic] else {
      let hint = Suggestion.help(for: topic, in: topics.keys).map { " (\($0))" } ?? ""
      return CommandLineInterface.usageError("no help for '\(topic)'\(hint)", "louter help [COMMAND]")
    }
    print(text)
    return 0
  }
}
