import Foundation
import Testing

@testable import RouteSpec

@Suite struct RouteLoaderTests {
  /// A fresh folder under the temporary directory, removed by the caller.
  func makeFolder(_ files: [String: String]) throws -> String {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("louter-loader-\(UInt64.random(in: 0...UInt64.max))").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    for (name, text) in files {
      try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
    }
    return folder
  }

  func remove(_ folder: String) {
    try? FileManager.default.removeItem(atPath: folder)
  }

  @Test func readsAFolderInByteOrderOfTheNames() throws {
    let folder = try makeFolder([
      "b.toml": "[[routes]]\nname = \"b\"\n",
      "a.toml": "[[routes]]\nname = \"a\"\n",
      "B.toml": "[[routes]]\nname = \"B\"\n",
      "_.toml": "[[routes]]\nname = \"_\"\n",
      "notes.txt": "not a route file",
      "c.toml.bak": "not a route file either",
    ])
    defer { remove(folder) }
    // A folder whose name ends in .toml is skipped: the folder is not read recursively.
    try FileManager.default.createDirectory(atPath: folder + "/nested.toml", withIntermediateDirectories: true)
    let loaded = RouteLoader.load(paths: [folder])
    #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics.map(\.message))")
    #expect(
      loaded.sources.files.map { ($0.path as NSString).lastPathComponent } == ["B.toml", "_.toml", "a.toml", "b.toml"])
    #expect(loaded.files.map { $0.routes.first?.name?.value } == ["B", "_", "a", "b"])
    #expect(loaded.files.map(\.file) == loaded.sources.files.map(\.id))
  }

  @Test func takesFilesAndFoldersTogetherAndReadsEachFileOnce() throws {
    let folder = try makeFolder(["a.toml": "[[routes]]\nname = \"a\"\n", "x.conf": "[[routes]]\nname = \"x\"\n"])
    defer { remove(folder) }
    // A file named explicitly is read whatever its extension.
    let loaded = RouteLoader.load(paths: [folder + "/", folder + "/a.toml", folder + "/x.conf"])
    #expect(loaded.diagnostics.isEmpty)
    #expect(loaded.files.map { $0.routes.first?.name?.value } == ["a", "x"])
  }

  @Test func aMissingPathIsL0501WithoutASpan() {
    let loaded = RouteLoader.load(paths: ["/nonexistent/louter/routes"])
    #expect(loaded.diagnostics.map(\.code) == [.unreadablePath])
    #expect(loaded.diagnostics.first?.message == "cannot read '/nonexistent/louter/routes': no such file or folder")
    #expect(loaded.diagnostics.first?.primary == nil)
    #expect(loaded.files.isEmpty)
  }

  @Test func aFolderWithoutRouteFilesIsL0502() throws {
    let folder = try makeFolder(["README.md": "# routes"])
    defer { remove(folder) }
    let loaded = RouteLoader.load(paths: [folder])
    #expect(loaded.diagnostics.map(\.code) == [.noRouteFiles])
    #expect(loaded.diagnostics.first?.message == "no *.toml files in '\(folder)'")
    #expect(loaded.diagnostics.first?.primary == nil)
  }

  @Test func aSyntaxErrorInOneFileDoesNotStopTheOthers() throws {
    let folder = try makeFolder([
      "a.toml": "[server\n",
      "b.toml": "[backends.x]\nprotocol = \"opnai\"\n",
      "c.toml": "[[routes]]\nname = \"c\"\n",
    ])
    defer { remove(folder) }
    let loaded = RouteLoader.load(paths: [folder])
    #expect(loaded.diagnostics.map(\.code.rawValue) == ["L0102", "L0206"])
    #expect(loaded.diagnostics.map { $0.primary?.span.file.index } == [0, 1])
    // The file that did not parse has no model; the others do.
    #expect(loaded.sources.files.count == 3)
    #expect(loaded.files.count == 2)
    #expect(loaded.files.last?.routes.first?.name?.value == "c")
  }

  @Test func diagnosticsComeInFileAndSourceOrder() throws {
    let folder = try makeFolder([
      "b.toml": "[server]\nlistn = \"x\"\n",
      "a.toml": "version = 9\n[backends.x]\nprotocol = \"echo\"\ntimeout = 5\n",
    ])
    defer { remove(folder) }
    let loaded = RouteLoader.load(paths: [folder, "/nonexistent/louter.toml"])
    #expect(loaded.diagnostics.map(\.code.rawValue) == ["L0501", "L0212", "L0208", "L0201"])
  }
}
