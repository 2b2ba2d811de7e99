import RouterRuntime

/// The process's standard streams. Written through `Posix` rather than Foundation's `FileHandle`: the
/// `louter` binary links only FoundationEssentials, so that a gateway does not carry all of Foundation
/// (and its ICU data) in memory.
enum StandardStream {
  case output
  case error

  var descriptor: Int32 { self == .output ? 1 : 2 }

  /// Writes all of `text`; a stream that cannot be written (closed, full disk) is not the command's failure.
  func write(_ text: String) {
    var text = text
    text.withUTF8 { bytes in try? Posix.writeAll(fd: descriptor, bytes: UnsafeRawBufferPointer(bytes)) }
  }

  /// Standard input to its end, or `nil` when it cannot be read.
  static func readInput(limit: Int = Int.max) -> [UInt8]? { try? Posix.readAll(fd: 0, limit: limit) }

  /// The first `limit` bytes of the file at `path`, or `nil` when it cannot be opened or read.
  static func readFile(_ path: String, limit: Int) -> [UInt8]? {
    guard let fd = try? Posix.openForReading(path) else { return nil }
    defer { Posix.close(fd) }
    return try? Posix.readAll(fd: fd, limit: limit)
  }
}
