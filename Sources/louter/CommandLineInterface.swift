import FoundationEssentials
import RouterRuntime

/// Dispatches `louter <command>` to the command's own type.
enum CommandLineInterface {
  static let overview = """
    louter \(LouterVersion.current): a config-as-code LLM router with a Gemini API front

    Usage: louter <command> [options]

    Commands:
      serve                run the gateway (Gemini API front) on the compiled routes
      check [PATH ...]     parse and compile route files, run their [[tests]]
      explain --model M    show which route a request takes, and why
      dump [PATH ...]      print the compiled route table as JSON, secrets redacted
      diff OLD NEW         show which requests two route sets treat differently
      schema               print the JSON Schema of route files (for taplo / Even Better TOML)
      keygen [--prefix P]  print a new client key and its sha256: line
      toml-decode          TOML on stdin -> toml-test tagged JSON on stdout
      help [COMMAND]       show help for a command; `help codes` lists every diagnostic code

    Options:
      -h, --help           show this help
      --version            print the version

    Exit codes: 0 ok, 1 invalid routes or failed tests, 64 usage error.
    """

  static func run(_ arguments: [String]) -> Int32 {
    guard let command = arguments.first else {
      print(overview)
      return 0
    }
    let rest = Array(arguments.dropFirst())
    switch command {
    case "-h", "--help":
      print(overview)
      return 0
    case "--version":
      print("louter \(LouterVersion.current)")
      return 0
    case "toml-decode":
      return TOMLDecodeCommand.run(rest)
    case "serve":
      return ServeCommand.run(rest)
    case "check":
      return CheckCommand.run(rest)
    case "explain":
      return ExplainCommand.run(rest)
    case "dump":
      return DumpCommand.run(rest)
    case "diff":
      return DiffCommand.run(rest)
    case "schema":
      return SchemaCommand.run(rest)
    case "keygen":
      return KeygenCommand.run(rest)
    case "help":
      return HelpCommand.run(rest)
    default:
      return usageError("unknown command '\(command)'", "louter <command> [options]")
    }
  }

  /// Prints a usage error the argument-parser way and returns 64 (EX_USAGE).
  static func usageError(_ message: String, _ usage: String) -> Int32 {
    let text = "Error: \(message)\nUsage: \(usage)\n  See 'louter --help' for more information.\n"
    StandardStream.error.write(text)
    return 64
  }
}
