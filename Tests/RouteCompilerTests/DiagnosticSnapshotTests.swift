import Foundation
import RouteCompiler
import RouteSpec
import Testing

/// Golden-file tests of the rendered output for broken route files: one case per file or folder in
/// `Snapshots/cases`, rendered as `louter check` renders them (human format, and short format).
@Suite struct DiagnosticSnapshotTests {
  static let caseNames: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.cases.path)) ?? []
    return names.map { $0.hasSuffix(".toml") ? String($0.dropLast(5)) : $0 }.sorted()
  }()

  /// Runs the loader, compiler and route tests on one case, with paths printed relative to `cases/`.
  static func render(_ name: String, format: DiagnosticFormat) -> String {
    let file = Fixtures.cases.appendingPathComponent(name + ".toml")
    let path =
      FileManager.default.fileExists(atPath: file.path) ? file.path : Fixtures.cases.appendingPathComponent(name).path
    let loaded = RouteLoader.load(paths: [path])
    var diagnostics = loaded.diagnostics
    if !diagnostics.hasErrors {
      let result = RouteCompiler.compile(
        loaded.files, sources: loaded.sources, mode: .check, environment: Pipeline.environment)
      diagnostics += result.diagnostics
      if let table = result.table {
        diagnostics += RouteTestRunner.run(loaded.files, table: table).diagnostics
      }
    }
    let text = DiagnosticRenderer(sources: loaded.sources).render(diagnostics.sortedForDisplay(), format: format)
    return text.replacingAll(Fixtures.cases.path + "/", with: "cases/")
  }

  @Test func thereAreAtLeastTwentyFiveBrokenCases() {
    #expect(Self.caseNames.filter { $0.hasPrefix("L") }.count >= 25)
  }

  @Test(arguments: caseNames)
  func rendersLikeTheGoldenFile(_ name: String) {
    let human = Self.render(name, format: .human)
    let short = Self.render(name, format: .short)
    if let problem = Fixtures.assertSnapshot(human + "---- short\n" + short, named: name + ".txt") {
      Issue.record(Comment(rawValue: problem))
    }
    if name.hasPrefix("valid") {
      #expect(!human.contains("error["), "\(name) must compile without errors")
    } else {
      // The case's name starts with the code it exists to show.
      let code = String(name.prefix(5))
      #expect(human.contains("[\(code)]"), "\(name) must produce \(code)")
    }
  }

  @Test func everyCodeInTheCatalogueHasACase() {
    let covered = Set(Self.caseNames.map { String($0.prefix(5)) })
    // L0501 (a path that does not exist) cannot live in a fixture folder; it has its own test below.
    let missing = DiagnosticCode.allCases.map(\.rawValue).filter { !covered.contains($0) && $0 != "L0501" }
    #expect(missing.isEmpty, "codes without a snapshot case: \(missing)")
  }

  @Test func aMissingPathIsAnErrorWithoutSpan() {
    let loaded = RouteLoader.load(paths: ["/nonexistent/louter/routes"])
    #expect(loaded.diagnostics.map(\.code) == [.unreadablePath])
    let text = DiagnosticRenderer(sources: loaded.sources).render(loaded.diagnostics, format: .human)
    #expect(text.hasPrefix("error[L0501]: "))
    #expect(text.contains("/nonexistent/louter/routes"))
  }
}
