/// The output formats of `--format`.
public enum DiagnosticFormat: String, Sendable, CaseIterable {
  /// rustc-like: header, location arrow, source line, carets, notes and help.
  case human
  /// One line each: `file:line:col: error[L0203]: message`.
  case short
  /// One JSON object per line.
  case json
  /// GitHub Actions workflow commands (`::error file=...,line=...,col=...::...`).
  case github
}

/// The workflow commands that make a GitHub Actions annotation, by the colour GitHub gives them.
public enum GitHubAnnotationLevel: String, Sendable, CaseIterable {
  /// Red: `::error`.
  case error
  /// Yellow: `::warning`.
  case warning
  /// Blue: `::notice`.
  case notice
}

/// Prints diagnostics against the sources they point into.
public struct DiagnosticRenderer: Sendable {
  /// The files the spans refer to.
  public let sources: SourceMap
  /// Use ANSI colours (only on a terminal, and never with NO_COLOR).
  public let color: Bool

  /// Creates a renderer.
  public init(sources: SourceMap, color: Bool = false) {
    self.sources = sources
    self.color = color
  }

  /// Renders each diagnostic in `format`; the result ends with a newline unless empty.
  public func render(_ diagnostics: [Diagnostic], format: DiagnosticFormat) -> String {
    var out = ""
    for diagnostic in diagnostics {
      switch format {
      case .human: out += human(diagnostic)
      case .short: out += short(diagnostic) + "\n"
      case .json: out += json(diagnostic).serialized() + "\n"
      case .github: out += github(diagnostic) + "\n"
      }
    }
    return out
  }

  private func paint(_ text: String, _ code: String) -> String {
    color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
  }

  private func severityColor(_ severity: Severity) -> String {
    switch severity {
    case .error: "1;31"
    case .warning: "1;33"
    case .note: "1;36"
    }
  }

  private func position(_ span: SourceSpan) -> (path: String, location: SourceLocation) {
    let file = sources[span.file]
    return (file.path, file.location(of: span.start))
  }

  /// The rustc-like form.
  public func human(_ diagnostic: Diagnostic) -> String {
    var out = paint("\(diagnostic.severity.rawValue)[\(diagnostic.code.rawValue)]", severityColor(diagnostic.severity))
    out += paint(": \(diagnostic.message)", "1") + "\n"
    let labels = (diagnostic.primary.map { [($0, true)] } ?? []) + diagnostic.secondary.map { ($0, false) }
    let gutterWidth = labels.map { String(sources[$0.0.span.file].location(of: $0.0.span.start).line).count }.max() ?? 1
    let pad = String(repeating: " ", count: gutterWidth)
    var previousFile: FileID?
    for (label, isPrimary) in labels {
      let (path, location) = position(label.span)
      let arrow = previousFile == nil ? "-->" : ":::"
      if previousFile == nil || previousFile != label.span.file || !isPrimary {
        out += "\(pad)\(paint(arrow, "1;34")) \(path):\(location.line):\(location.column)\n"
      }
      previousFile = label.span.file
      out += "\(pad) \(paint("|", "1;34"))\n"
      out += snippet(label, isPrimary: isPrimary, severity: diagnostic.severity, gutterWidth: gutterWidth)
    }
    if !labels.isEmpty, !(diagnostic.notes.isEmpty && diagnostic.help == nil) {
      out += "\(pad) \(paint("|", "1;34"))\n"
    }
    for note in diagnostic.notes {
      out += "\(pad) \(paint("=", "1;34")) \(paint("note", "1")): \(note)\n"
    }
    if let help = diagnostic.help {
      let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
      out += "\(pad) \(paint("=", "1;34")) \(paint("help", "1")): \(lines[0])\n"
      for line in lines.dropFirst() {
        out += "\(pad)         \(line)\n"
      }
    }
    out += "\n"
    return out
  }

  private func snippet(_ label: Label, isPrimary: Bool, severity: Severity, gutterWidth: Int) -> String {
    let file = sources[label.span.file]
    let lineIndex = file.lineIndex(of: min(label.span.start, file.bytes.count))
    let rawLine = file.lineText(lineIndex)
    let lineStart = file.lineStarts[lineIndex]
    let lineEnd = lineStart + rawLine.utf8.count
    let display = expandTabs(rawLine)
    let startColumn = displayWidth(file, from: lineStart, to: label.span.start)
    let clippedEnd = min(label.span.end, lineEnd)
    var width = displayWidth(file, from: max(label.span.start, lineStart), to: clippedEnd)
    if width == 0 { width = 1 }
    let number = String(lineIndex + 1)
    let gutter = String(repeating: " ", count: gutterWidth - number.count) + number
    let marker = String(repeating: isPrimary ? "^" : "-", count: width)
    let markerColor = isPrimary ? severityColor(severity) : "1;34"
    var out = "\(paint(gutter, "1;34")) \(paint("|", "1;34")) \(display)\n"
    var underline = String(repeating: " ", count: startColumn) + paint(marker, markerColor)
    if !label.message.isEmpty { underline += " " + paint(label.message, markerColor) }
    out += "\(String(repeating: " ", count: gutterWidth)) \(paint("|", "1;34")) \(underline)\n"
    return out
  }

  private func expandTabs(_ line: String) -> String {
    line.replacingTabs()
  }

  /// Display columns between two byte offsets: one per scalar, four per tab.
  private func displayWidth(_ file: SourceFile, from start: Int, to end: Int) -> Int {
    var width = 0
    var index = max(0, start)
    let stop = min(end, file.bytes.count)
    while index < stop {
      let byte = file.bytes[index]
      if byte == 0x09 {
        width += 4
      } else if byte & 0xC0 != 0x80 {
        width += 1
      }
      index += 1
    }
    return width
  }

  /// `file:line:col: severity[code]: message`.
  public func short(_ diagnostic: Diagnostic) -> String {
    var prefix = ""
    if let primary = diagnostic.primary {
      let (path, location) = position(primary.span)
      prefix = "\(path):\(location.line):\(location.column): "
    }
    var line = "\(prefix)\(diagnostic.severity.rawValue)[\(diagnostic.code.rawValue)]: \(diagnostic.message)"
    if let help = diagnostic.help, !help.contains("\n") { line += " (help: \(help))" }
    return line
  }

  /// GitHub Actions annotation.
  public func github(_ diagnostic: Diagnostic) -> String {
    let level: GitHubAnnotationLevel
    switch diagnostic.severity {
    case .error: level = .error
    case .warning: level = .warning
    case .note: level = .notice
    }
    var message = "\(diagnostic.code.rawValue): \(diagnostic.message)"
    if let help = diagnostic.help { message += "\nhelp: \(help)" }
    return githubAnnotation(level, at: diagnostic.primary?.span, title: diagnostic.code.rawValue, message: message)
  }

  /// One GitHub Actions workflow command, `::level file=F,line=L,col=C[,endColumn=E],title=T::message`:
  /// the position properties only when `span` is given (`endColumn` when the span ends on its first
  /// line), every property and the message escaped as GitHub's runner unescapes them.
  public func githubAnnotation(_ level: GitHubAnnotationLevel, at span: SourceSpan?, title: String, message: String)
    -> String
  {
    var properties: [String] = []
    if let span {
      let (path, location) = position(span)
      let end = sources[span.file].location(of: span.end)
      properties.append("file=\(escapeProperty(path))")
      properties.append("line=\(location.line)")
      properties.append("col=\(location.column)")
      if end.line == location.line { properties.append("endColumn=\(end.column)") }
    }
    properties.append("title=\(escapeProperty(title))")
    return "::\(level.rawValue) \(properties.joined(separator: ","))::\(escapeData(message))"
  }

  private func escapeData(_ text: String) -> String {
    escape(text, property: false)
  }

  private func escapeProperty(_ text: String) -> String {
    escape(text, property: true)
  }

  /// `%`, CR and LF percent-encoded, and in a property also `:` and `,`. Scalar by scalar: `"\r\n"`
  /// is one `Character`, which a Character-wise replace of `"\r"` or `"\n"` would leave raw.
  private func escape(_ text: String, property: Bool) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "%": out += "%25"
      case "\r": out += "%0D"
      case "\n": out += "%0A"
      case ":" where property: out += "%3A"
      case "," where property: out += "%2C"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out
  }

  /// The JSON object for one diagnostic.
  public func json(_ diagnostic: Diagnostic) -> JSONValue {
    func labelJSON(_ label: Label) -> JSONValue {
      let file = sources[label.span.file]
      let start = file.location(of: label.span.start)
      let end = file.location(of: label.span.end)
      return .object([
        "file": .string(file.path), "line": .int(Int64(start.line)), "column": .int(Int64(start.column)),
        "endLine": .int(Int64(end.line)), "endColumn": .int(Int64(end.column)),
        "byteOffset": .int(Int64(label.span.start)), "byteLength": .int(Int64(label.span.end - label.span.start)),
        "label": .string(label.message),
      ])
    }
    return .object([
      "severity": .string(diagnostic.severity.rawValue),
      "code": .string(diagnostic.code.rawValue),
      "message": .string(diagnostic.message),
      "primary": diagnostic.primary.map(labelJSON) ?? .null,
      "secondary": .array(diagnostic.secondary.map(labelJSON)),
      "notes": .array(diagnostic.notes.map { .string($0) }),
      "help": diagnostic.help.map { .string($0) } ?? .null,
    ])
  }
}

extension String {
  /// Every occurrence of `target` replaced; written here so RouteSpec needs no Foundation.
  public func replacingAll(_ target: String, with replacement: String) -> String {
    guard !target.isEmpty, contains(target) else { return self }
    var result = ""
    var rest = self[...]
    while let range = rest.firstRange(of: target) {
      result += rest[..<range.lowerBound]
      result += replacement
      rest = rest[range.upperBound...]
    }
    result += rest
    return result
  }

  fileprivate func replacingTabs() -> String {
    replacingAll("\t", with: "    ")
  }
}
