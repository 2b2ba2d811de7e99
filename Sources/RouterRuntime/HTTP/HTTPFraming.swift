/// Line and head boundaries shared by the request and response parsers (CRLF, or a bare LF).
extension [UInt8] {
  /// The end of a message head at or after `start`: where the head's last line ends and the body begins.
  func httpHeadEnd(from start: Int) -> (head: Int, body: Int)? {
    var index = Swift.max(0, start)
    while index < count {
      if self[index] == 0x0A {
        if index + 1 < count, self[index + 1] == 0x0A { return (index, index + 2) }
        if index + 2 < count, self[index + 1] == 0x0D, self[index + 2] == 0x0A { return (index, index + 3) }
      }
      index += 1
    }
    return nil
  }

  /// The end of the line starting at `start`: where its content ends and the next line begins.
  func httpLineEnd(from start: Int) -> (content: Int, next: Int)? {
    var index = start
    while index < count {
      if self[index] == 0x0A { return (index > start && self[index - 1] == 0x0D ? index - 1 : index, index + 1) }
      index += 1
    }
    return nil
  }
}
