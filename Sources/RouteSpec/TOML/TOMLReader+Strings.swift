extension TOMLReader {
  /// Parses `"..."` at `pos`; leaves `pos` after the closing quote.
  mutating func parseBasicString() throws(TOMLError) -> String {
    let start = pos
    pos += 1
    let contentStart = pos
    // Fast path: most strings have no escape, so they become a String straight from the slice.
    while pos < end {
      let value = bytes[pos]
      if value == ASCII.quote {
        let result = text(contentStart, pos)
        pos += 1
        return result
      }
      if value == ASCII.backslash { break }
      try stepStringByte(value, start: start)
    }
    guard pos < end else { throw unterminated(start, pos, closer: "\"") }
    scratch.removeAll(keepingCapacity: true)
    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[contentStart..<pos]))
    while pos < end {
      let value = bytes[pos]
      if value == ASCII.quote {
        pos += 1
        return String(decoding: scratch, as: UTF8.self)
      }
      if value == ASCII.backslash {
        try appendEscape()
        continue
      }
      let from = pos
      try stepStringByte(value, start: start)
      scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[from..<pos]))
    }
    throw unterminated(start, pos, closer: "\"")
  }

  /// Parses `'...'` at `pos`.
  mutating func parseLiteralString() throws(TOMLError) -> String {
    let start = pos
    pos += 1
    let contentStart = pos
    while pos < end {
      let value = bytes[pos]
      if value == ASCII.apostrophe {
        let result = text(contentStart, pos)
        pos += 1
        return result
      }
      try stepStringByte(value, start: start)
    }
    throw unterminated(start, pos, closer: "'")
  }

  /// Advances over one non-quote byte (or UTF-8 sequence) of a single-line string.
  @inline(__always) mutating func stepStringByte(_ value: UInt8, start: Int) throws(TOMLError) {
    if value >= ASCII.space && value < 0x7F || value == ASCII.tab {
      pos += 1
    } else if value >= 0x80 {
      pos += try utf8Length(at: pos)
    } else if value == ASCII.newline || value == ASCII.carriageReturn {
      throw unterminated(start, pos, closer: bytes[start] == ASCII.quote ? "\"" : "'")
    } else {
      throw controlCharacter(at: pos, context: "in a string")
    }
  }

  func unterminated(_ start: Int, _ stop: Int, closer: String) -> TOMLError {
    let multiline = closer.utf8.count == 3
    let help =
      multiline
      ? "close the string with \(closer)"
      : "close the string with \(closer) before the end of the line; use \(closer)\(closer)\(closer) for a multi-line string"
    return error(.unterminatedString, "string is not closed", start, stop, help: help)
  }

  /// Appends the escape at `pos` (a backslash) to `scratch` and moves past it.
  mutating func appendEscape() throws(TOMLError) {
    let start = pos
    let code = byte(at: pos + 1)
    guard pos + 1 < end else { throw unterminated(start, pos + 1, closer: "\"") }
    let simple: UInt8
    switch code {
    case UInt8(ascii: "b"): simple = 0x08
    case UInt8(ascii: "t"): simple = 0x09
    case UInt8(ascii: "n"): simple = 0x0A
    case UInt8(ascii: "f"): simple = 0x0C
    case UInt8(ascii: "r"): simple = 0x0D
    case ASCII.quote: simple = ASCII.quote
    case ASCII.backslash: simple = ASCII.backslash
    case UInt8(ascii: "u"), UInt8(ascii: "U"):
      let count = code == UInt8(ascii: "u") ? 4 : 8
      var scalar: UInt32 = 0
      var index = pos + 2
      while index < pos + 2 + count {
        guard let digit = Self.hexValue(byte(at: index)), index < end else {
          throw error(
            .invalidEscape, "escape \\\(code == UInt8(ascii: "u") ? "u" : "U") needs \(count) hexadecimal digits",
            start, min(index + 1, end), help: "write it as \\\(code == UInt8(ascii: "u") ? "u0041" : "U0001F600")")
        }
        scalar = scalar << 4 | UInt32(digit)
        index += 1
      }
      guard let decoded = Unicode.Scalar(scalar) else {
        throw error(
          .invalidEscape, "escape `\(text(start, index))` is not a unicode scalar value", start, index,
          help: "surrogates (D800-DFFF) and values above 10FFFF cannot be written")
      }
      appendScalar(decoded)
      pos = index
      return
    default:
      let length = max(1, scalarLength(at: pos + 1))
      let shown =
        code == ASCII.newline || code == ASCII.carriageReturn || code < ASCII.space || code >= 0x80
        ? "\\" : text(start, pos + 2)
      throw error(
        .invalidEscape, "invalid escape sequence `\(shown)`", start, pos + 1 + length,
        help: "valid escapes are \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX and \\UXXXXXXXX; write \\\\ for a backslash")
    }
    scratch.append(simple)
    pos += 2
  }

  static func hexValue(_ value: UInt8) -> UInt8? { HexDigit.value(of: value) }

  mutating func appendScalar(_ scalar: Unicode.Scalar) {
    let value = scalar.value
    switch value {
    case 0..<0x80:
      scratch.append(UInt8(value))
    case 0x80..<0x800:
      scratch.append(UInt8(0xC0 | value >> 6))
      scratch.append(UInt8(0x80 | value & 0x3F))
    case 0x800..<0x10000:
      scratch.append(UInt8(0xE0 | value >> 12))
      scratch.append(UInt8(0x80 | value >> 6 & 0x3F))
      scratch.append(UInt8(0x80 | value & 0x3F))
    default:
      scratch.append(UInt8(0xF0 | value >> 18))
      scratch.append(UInt8(0x80 | value >> 12 & 0x3F))
      scratch.append(UInt8(0x80 | value >> 6 & 0x3F))
      scratch.append(UInt8(0x80 | value & 0x3F))
    }
  }

  /// Parses `"""..."""` at `pos`. Line endings inside are normalised to LF.
  mutating func parseMultilineBasicString() throws(TOMLError) -> String {
    try parseMultiline(quote: ASCII.quote)
  }

  /// Parses `'''...'''` at `pos`. Line endings inside are normalised to LF.
  mutating func parseMultilineLiteralString() throws(TOMLError) -> String {
    try parseMultiline(quote: ASCII.apostrophe)
  }

  /// Both multi-line string kinds; only the basic one (`"""`) has escapes.
  mutating func parseMultiline(quote: UInt8) throws(TOMLError) -> String {
    let start = pos
    let escapes = quote == ASCII.quote
    let closer = escapes ? "\"\"\"" : "'''"
    pos += 3
    // A line ending right after the opening quotes is not part of the string.
    if byte(at: pos) == ASCII.newline {
      pos += 1
    } else if byte(at: pos) == ASCII.carriageReturn, byte(at: pos + 1) == ASCII.newline {
      pos += 2
    }
    scratch.removeAll(keepingCapacity: true)
    var run = pos
    while pos < end {
      let value = bytes[pos]
      if value >= ASCII.space && value < 0x7F && value != quote && value != ASCII.backslash || value == ASCII.tab
        || value == ASCII.newline
      {
        pos += 1
        continue
      }
      if value == quote {
        var count = 1
        while byte(at: pos + count) == quote, pos + count < end { count += 1 }
        if count < 3 {
          pos += count
          continue
        }
        if count > 5 {
          throw error(
            .unexpectedToken, "too many quotes at the end of a multi-line string", pos + 5, pos + count,
            help: "escape quotes inside the string, or use the other kind of string")
        }
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<(pos + count - 3)]))
        pos += count
        return String(decoding: scratch, as: UTF8.self)
      }
      if value == ASCII.backslash && escapes {
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<pos]))
        var next = pos + 1
        while next < end, bytes[next] == ASCII.space || bytes[next] == ASCII.tab { next += 1 }
        let ending = byte(at: next)
        if next < end,
          ending == ASCII.newline || ending == ASCII.carriageReturn && byte(at: next + 1) == ASCII.newline
        {
          // A line-ending backslash eats the line ending and all whitespace that follows.
          pos = next
          while pos < end {
            let skipped = bytes[pos]
            if skipped == ASCII.space || skipped == ASCII.tab || skipped == ASCII.newline {
              pos += 1
            } else if skipped == ASCII.carriageReturn {
              guard byte(at: pos + 1) == ASCII.newline else { throw bareCarriageReturn(at: pos) }
              pos += 2
            } else {
              break
            }
          }
        } else {
          try appendEscape()
        }
        run = pos
        continue
      }
      if value == ASCII.backslash {
        pos += 1
      } else if value >= 0x80 {
        pos += try utf8Length(at: pos)
      } else if value == ASCII.carriageReturn {
        guard byte(at: pos + 1) == ASCII.newline else { throw bareCarriageReturn(at: pos) }
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<pos]))
        pos += 1
        run = pos
      } else {
        throw controlCharacter(at: pos, context: "in a string")
      }
    }
    throw unterminated(start, pos, closer: closer)
  }
}
