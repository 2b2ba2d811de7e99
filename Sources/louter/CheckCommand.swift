import FoundationEssentials
import RouteCompiler
import RouteSpec
import RouterRuntime

/// Loads and compiles a configuration; shared by `check`, `explain`, `dump` and `serve`.
struct ConfigurationLoad {
  let sources: SourceMap
  let files: [RouteFileSyntax]
  let diagnostics: [Diagnostic]
  let table: RouteTable?

  static func load(paths: [String], mode: CompileMode) -> ConfigurationLoad {
    let loaded = RouteLoader.load(paths: paths)
    var diagnostics = loaded.diagnostics
    var table: RouteTable?
    // The compiler needs every file decoded: a syntax error anywhere stops here, with all parse errors shown.
    if !diagnostics.hasErrors {
      let result = RouteCompiler.compile(
        loaded.files, sources: loaded.sources, mode: mode, environment: ProcessInfo.processInfo.environment)
      diagnostics += result.diagnostics
      table = result.table
    }
    return ConfigurationLoad(
      sources: loaded.sources, files: loaded.files, diagnostics: diagnostics.sortedByLocation(), table: table)
  }
}

/// Where and how diagnostics are printed.
struct DiagnosticOutput {
  let format: DiagnosticFormat

  init(format: DiagnosticFormat) { self.format = format }

  /// Parses `--format`.
  init(_ arguments: Arguments) throws(Arguments.Problem) {
    let name = arguments.value("--format") ?? "human"
    guard let format = DiagnosticFormat(rawValue: name) else {
      let allowed = DiagnosticFormat.allCases.map(\.rawValue)
      let hint = Suggestion.help(for: name, in: allowed).map { " (\($0))" } ?? ""
      throw Arguments.Problem(message: "unknown format '\(name)'; use one of \(allowed.joined(separator: ", "))\(hint)")
    }
    self.format = format
  }

  /// Machine formats go to stdout so they can be piped; human ones to stderr, like a compiler.
  var toStandardOutput: Bool { format == .json || format == .github }

  func print(_ diagnostics: [Diagnostic], sources: SourceMap) {
    guard !diagnostics.isEmpty else { return }
    let color = !toStandardOutput && Terminal.colorEnabled(fileDescriptor: 2)
    let text = DiagnosticRenderer(sources: sources, color: color).render(diagnostics, format: format)
    emit(text)
  }

  func emit(_ text: String) {
    (toStandardOutput ? StandardStream.output : .error).write(text)
  }
}

/// Terminal facts for colour decisions.
enum Terminal {
  /// Colour only on a terminal, and never when NO_COLOR is set (any value).
  static func colorEnabled(fileDescriptor: Int32) -> Bool {
    ProcessInfo.processInfo.environment["NO_COLOR"] == nil && Posix.isTerminal(fileDescriptor)
  }
}

/// `louter check [PATH ...]`.
enum CheckCommand {
  static let usage = "louter check [PATH ...] [--format human|short|json|github] [--deny-warnings]"
  static let help = """
    Parse and compile route files, then run their [[tests]]. Never touches the network.

    Usage: \(usage)

    Arguments:
      PATH                 route files or folders (default: ./routes); a folder means its *.toml files

    Options:
      --format FORMAT      human (default), short, json or github (GitHub Actions annotations)
      --deny-warnings      exit 1 when there are warnings
      -h, --help           show this help

    Exit codes: 0 valid, 1 invalid routes or failed tests, 64 usage error.
    """

  static func run(_ rawArguments: [String]) -> Int32 {
    let arguments: Arguments
    let output: DiagnosticOutput
    do {
      arguments = try Arguments(rawArguments, values: ["--format"], flags: ["--deny-warnings", "-h", "--help"])
      output = try DiagnosticOutput(arguments)
    } catch {
      return CommandLineInterface.usageError(error.message, usage)
    }
    if arguments.flag("-h") || arguments.flag("--help") {
      print(help)
      return 0
    }
    let paths = arguments.positional.isEmpty ? ["routes"] : arguments.positional
    let load = ConfigurationLoad.load(paths: paths, mode: .check)
    var diagnostics = load.diagnostics
    var testSummary = "tests not run"
    if let table = load.table {
      let report = RouteTestRunner.run(load.files, table: table)
      diagnostics = (diagnostics + report.diagnostics).sortedByLocation()
      testSummary = "\(report.passed) of \(report.passed + report.failed) tests passed"
    }
    output.print(diagnostics.sortedForDisplay(), sources: load.sources)
    let errors = diagnostics.filter { $0.severity == .error }.count
    let warnings = diagnostics.filter { $0.severity == .warning }.count
    let routeCount = load.files.reduce(0) { $0 + $1.routes.count }
    let backendCount = load.files.reduce(0) { $0 + $1.backends.count }
    let clientCount = load.files.reduce(0) { $0 + $1.clients.count }
    let fileCount = load.files.count
    let failed = errors > 0 || (warnings > 0 && arguments.flag("--deny-warnings"))
    let verdict = failed ? "failed" : "ok"
    let summary =
      "check \(verdict): \(fileCount) \(plural(fileCount, "file")), \(routeCount) \(plural(routeCount, "route")), "
      + "\(backendCount) \(plural(backendCount, "backend")), \(clientCount) \(plural(clientCount, "client")), "
      + "\(testSummary); \(errors) \(plural(errors, "error")), \(warnings) \(plural(warnings, "warning"))"
    if output.format == .json {
      let json = JSONValue.object([
        "summary": .object([
          "ok": .bool(!failed), "files": .int(Int64(fileCount)), "routes": .int(Int64(routeCount)),
          "backends": .int(Int64(backendCount)), "errors": .int(Int64(errors)), "warnings": .int(Int64(warnings)),
        ])
      ])
      output.emit(json.serialized() + "\n")
    } else if output.format != .github {
      StandardStream.error.write(summary + "\n")
    }
    return failed ? 1 : 0
  }

  static func plural(_ count: Int, _ word: String) -> String { count == 1 ? word : word + "s" }
}
