import FoundationEssentials

/// A configuration read from disk: its sources, decoded files and the diagnostics of both steps.
public struct LoadedConfiguration: Sendable {
  /// Every file read, for rendering diagnostics.
  public let sources: SourceMap
  /// The decoded files, in load order.
  public let files: [RouteFileSyntax]
  /// Read, parse and decode diagnostics.
  public let diagnostics: [Diagnostic]
}

/// Reads route files and folders: a folder means its `*.toml` files (not recursive), in byte order of the name.
public enum RouteLoader {
  /// Loads `paths` as one configuration.
  public static func load(paths: [String]) -> LoadedConfiguration {
    var sources = SourceMap()
    var files: [RouteFileSyntax] = []
    var diagnostics: [Diagnostic] = []
    // `louter check routes/ routes/a.toml` names a file twice; reading it once avoids reporting
    // every name in it as defined twice.
    var seen: Set<String> = []
    for path in paths {
      var isDirectory = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        diagnostics.append(
          Diagnostic(
            .unreadablePath, "cannot read '\(path)': no such file or folder", at: nil,
            help: "give a route file or a folder of *.toml files"))
        continue
      }
      var filePaths = [path]
      let separator = path.hasSuffix("/") ? "" : "/"
      if isDirectory {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
          diagnostics.append(
            Diagnostic(
              .unreadablePath, "cannot read '\(path)': the folder cannot be listed", at: nil,
              help: "check the folder's permissions"))
          continue
        }
        // A sub-folder that happens to end in .toml is not a route file (the folder is not recursive).
        let tomlNames = names.filter { name in
          var isFolder = false
          return name.hasSuffix(".toml")
            && FileManager.default.fileExists(atPath: path + separator + name, isDirectory: &isFolder)
            && !isFolder
        }
        .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        if tomlNames.isEmpty {
          diagnostics.append(
            Diagnostic(
              .noRouteFiles, "no *.toml files in '\(path)'", at: nil, help: "add route files, or name the right folder")
          )
        }
        filePaths = tomlNames.map { path + separator + $0 }
      }
      for filePath in filePaths where seen.insert(URL(fileURLWithPath: filePath).standardizedFileURL.path).inserted {
        guard let data = FileManager.default.contents(atPath: filePath) else {
          diagnostics.append(Diagnostic(.unreadablePath, "cannot read '\(filePath)'", at: nil))
          continue
        }
        let file = sources.add(path: filePath, bytes: [UInt8](data))
        do {
          let tree = try TOMLParser.parse(file)
          let (syntax, found) = RouteFileDecoder.decode(tree, file: file)
          files.append(syntax)
          diagnostics += found
        } catch {
          diagnostics.append(error.diagnostic)
        }
      }
    }
    return LoadedConfiguration(sources: sources, files: files, diagnostics: diagnostics.sortedByLocation())
  }
}
