/// Identifies one source file inside a `SourceMap`.
public struct FileID: Hashable, Sendable, Comparable {
  /// Index of the file in its `SourceMap`.
  public let index: Int

  /// Creates a file identifier from its index in the map.
  public init(_ index: Int) { self.index = index }

  public static func < (lhs: FileID, rhs: FileID) -> Bool { lhs.index < rhs.index }
}

/// A byte range in one source file. Line and column are computed only when printing.
public struct SourceSpan: Hashable, Sendable, Comparable {
  /// The file the range belongs to.
  public let file: FileID
  /// First byte offset (inclusive).
  public let start: Int
  /// Byte offset one past the last byte (exclusive).
  public let end: Int

  /// Creates a span over `start..<end` of `file`.
  public init(file: FileID, start: Int, end: Int) {
    self.file = file
    self.start = start
    self.end = max(start, end)
  }

  /// The span that covers both `self` and `other` (same file assumed).
  public func merged(with other: SourceSpan) -> SourceSpan {
    SourceSpan(file: file, start: min(start, other.start), end: max(end, other.end))
  }

  public static func < (lhs: SourceSpan, rhs: SourceSpan) -> Bool {
    (lhs.file, lhs.start, lhs.end) < (rhs.file, rhs.start, rhs.end)
  }
}

/// One source file's bytes and the table of its line starts.
public struct SourceFile: Sendable {
  /// Identifier of the file in its map.
  public let id: FileID
  /// The path as the user named it; printed in diagnostics.
  public let path: String
  /// The raw bytes, exactly as read.
  public let bytes: [UInt8]
  /// Byte offset of the start of every line; built once, searched by binary search.
  public let lineStarts: [Int]

  /// Creates a source file and indexes its line starts.
  public init(id: FileID, path: String, bytes: [UInt8]) {
    self.id = id
    self.path = path
    self.bytes = bytes
    var starts = [0]
    starts.reserveCapacity(bytes.count / 32 + 1)
    for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
      starts.append(offset + 1)
    }
    self.lineStarts = starts
  }

  /// Creates a source file from text.
  public init(id: FileID, path: String, text: String) {
    self.init(id: id, path: path, bytes: Array(text.utf8))
  }

  /// The 0-based line index holding `offset`.
  public func lineIndex(of offset: Int) -> Int {
    var low = 0
    var high = lineStarts.count - 1
    while low < high {
      let mid = (low + high + 1) / 2
      if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
    }
    return low
  }

  /// 1-based line and 1-based character (Unicode scalar) column of a byte offset.
  public func location(of offset: Int) -> SourceLocation {
    let clamped = min(max(offset, 0), bytes.count)
    let line = lineIndex(of: clamped)
    let start = lineStarts[line]
    var column = 1
    var index = start
    while index < clamped {
      // Count only the bytes that begin a UTF-8 scalar.
      if bytes[index] & 0xC0 != 0x80 { column += 1 }
      index += 1
    }
    return SourceLocation(line: line + 1, column: column)
  }

  /// The text of the 0-based line `index`, without its line ending.
  public func lineText(_ index: Int) -> String {
    guard index >= 0, index < lineStarts.count else { return "" }
    let start = lineStarts[index]
    var end = index + 1 < lineStarts.count ? lineStarts[index + 1] : bytes.count
    while end > start, bytes[end - 1] == UInt8(ascii: "\n") || bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
    return String(decoding: bytes[start..<end], as: UTF8.self)
  }

  /// The source text covered by `span`.
  public func text(of span: SourceSpan) -> String {
    let start = min(max(span.start, 0), bytes.count)
    let end = min(max(span.end, start), bytes.count)
    return String(decoding: bytes[start..<end], as: UTF8.self)
  }
}

/// A printable position: 1-based line and 1-based character column.
public struct SourceLocation: Hashable, Sendable {
  /// 1-based line number.
  public let line: Int
  /// 1-based column counted in Unicode scalars.
  public let column: Int
}

/// All files of one configuration, addressed by `FileID`.
public struct SourceMap: Sendable {
  /// The files, indexed by `FileID.index`.
  public private(set) var files: [SourceFile] = []

  /// Creates an empty map.
  public init() {}

  /// Adds a file and returns it with its new identifier.
  @discardableResult
  public mutating func add(path: String, bytes: [UInt8]) -> SourceFile {
    let file = SourceFile(id: FileID(files.count), path: path, bytes: bytes)
    files.append(file)
    return file
  }

  /// The file with identifier `id`.
  public subscript(id: FileID) -> SourceFile { files[id.index] }
}
