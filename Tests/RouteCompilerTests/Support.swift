import Foundation
import RouteCompiler
import RouteSpec

/// Compiles in-memory route files through the whole pipeline, as `louter check` does.
struct Pipeline {
  let sources: SourceMap
  let files: [RouteFileSyntax]
  let diagnostics: [Diagnostic]
  let table: RouteTable?

  /// The environment tests compile against: fixed, never the process's own.
  static let environment = ["LOUTER_TEST_KEY": "test-key"]

  init(_ texts: [(path: String, text: String)], mode: CompileMode = .check, environment: [String: String] = environment)
  {
    var sources = SourceMap()
    var files: [RouteFileSyntax] = []
    var diagnostics: [Diagnostic] = []
    for (path, text) in texts {
      let file = sources.add(path: path, bytes: Array(text.utf8))
      do {
        let table = try TOMLParser.parse(file)
        let (syntax, found) = RouteFileDecoder.decode(table, file: file)
        files.append(syntax)
        diagnostics += found
      } catch {
        diagnostics.append(error.diagnostic)
      }
    }
    var table: RouteTable?
    if !diagnostics.hasErrors {
      let result = RouteCompiler.compile(files, sources: sources, mode: mode, environment: environment)
      diagnostics += result.diagnostics
      table = result.table
    }
    self.sources = sources
    self.files = files
    self.diagnostics = diagnostics.sortedByLocation()
    self.table = table
  }

  init(_ text: String, mode: CompileMode = .check, environment: [String: String] = environment) {
    self.init([("routes/a.toml", text)], mode: mode, environment: environment)
  }

  /// The codes of every diagnostic, in order.
  var codes: [String] { diagnostics.map(\.code.rawValue) }

  /// The rendered diagnostics, human format, no colour.
  var rendered: String { DiagnosticRenderer(sources: sources).render(diagnostics, format: .human) }
}

/// Paths of the test fixtures.
enum Fixtures {
  static let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
  static let cases = snapshots.appendingPathComponent("cases")
  static let expected = snapshots.appendingPathComponent("expected")
  static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// Compares `actual` with the golden file `name`; `RECORD_SNAPSHOTS=1` rewrites it and fails, so that a
  /// recording run is never mistaken for a passing one.
  static func assertSnapshot(_ actual: String, named name: String) -> String? {
    let url = expected.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] != nil {
      try? FileManager.default.createDirectory(at: expected, withIntermediateDirectories: true)
      try? Data(actual.utf8).write(to: url)
      return "recorded \(name); run again without RECORD_SNAPSHOTS"
    }
    guard let data = try? Data(contentsOf: url) else {
      return "missing snapshot \(name); record with RECORD_SNAPSHOTS=1"
    }
    let golden = String(decoding: data, as: UTF8.self)
    return golden == actual ? nil : "snapshot \(name) differs:\n--- expected\n\(golden)\n--- actual\n\(actual)"
  }
}
