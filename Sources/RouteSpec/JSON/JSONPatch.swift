/// Where one top-level member of a JSON object sits in the original bytes.
public struct JSONMemberLocation: Sendable, Equatable {
  /// The decoded member name.
  public var key: String
  /// The bytes of the key, including its quotes.
  public var keyRange: Range<Int>
  /// The bytes of the value, exactly (no surrounding whitespace).
  public var valueRange: Range<Int>

  /// Creates a location.
  public init(key: String, keyRange: Range<Int>, valueRange: Range<Int>) {
    self.key = key
    self.keyRange = keyRange
    self.valueRange = valueRange
  }
}

/// The member layout of a top-level JSON object, found without building its values.
public struct JSONObjectLayout: Sendable, Equatable {
  /// Offset of the opening `{`.
  public var openBrace: Int
  /// Offset of the closing `}`.
  public var closeBrace: Int
  /// The members in document order (duplicates kept).
  public var members: [JSONMemberLocation]
  /// Offset of a comma after the last member (``JSONSyntax/geminiRequest`` allows one), if any.
  public var trailingComma: Int?

  /// Creates a layout.
  public init(openBrace: Int, closeBrace: Int, members: [JSONMemberLocation], trailingComma: Int? = nil) {
    self.openBrace = openBrace
    self.closeBrace = closeBrace
    self.members = members
    self.trailingComma = trailingComma
  }

  /// The first member whose key is one of `keys` (e.g. both spellings of a proto field), or nil.
  public func member(named keys: String...) -> JSONMemberLocation? { member(namedAnyOf: keys) }

  /// The first member whose key is one of `keys`, or nil.
  public func member(namedAnyOf keys: [String]) -> JSONMemberLocation? {
    members.first { keys.contains($0.key) }
  }
}

/// Byte-faithful edits of a JSON object, for passthrough: only the edited member's bytes change.
///
/// Passthrough must keep unknown fields, `thoughtSignature`s and number spellings exactly as the client sent
/// them, so edits splice bytes instead of re-serialising the document. The bytes are always a Gemini client's
/// request body, so they are read with ``JSONSyntax/geminiRequest`` (trailing commas kept as they are).
public enum JSONPatch {
  /// A change to one member, named by all spellings it may have (`["systemInstruction", "system_instruction"]`).
  public struct MemberEdit: Sendable {
    /// Spellings of the member; an inserted member uses the first.
    public var keys: [String]
    /// Gets the current value (nil when absent) and returns the new one (nil removes the member).
    public var transform: @Sendable (JSONValue?) throws(JSONParseError) -> JSONValue?

    /// Creates an edit from a transform.
    public init(
      keys: [String], transform: @escaping @Sendable (JSONValue?) throws(JSONParseError) -> JSONValue?
    ) {
      self.keys = keys
      self.transform = transform
    }

    /// Sets the member to `value`, inserting it when absent.
    public static func set(_ keys: [String], to value: JSONValue) -> MemberEdit {
      MemberEdit(keys: keys) { _ in value }
    }

    /// Removes the member when present.
    public static func remove(_ keys: [String]) -> MemberEdit {
      MemberEdit(keys: keys) { _ in nil }
    }
  }

  /// Both JSON names of `GenerateContentRequest.system_instruction`.
  public static let systemInstructionKeys = ["systemInstruction", "system_instruction"]
  /// Both JSON names of `GenerateContentRequest.generation_config`.
  public static let generationConfigKeys = ["generationConfig", "generation_config"]

  /// Finds the members of the top-level object in `bytes`; the whole document is validated.
  public static func layout(of bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONObjectLayout {
    let result: Result<JSONObjectLayout, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
      layoutResult(buffer)
    }
    if let result { return try result.get() }
    let copy = Array(bytes)
    return try copy.withUnsafeBufferPointer { layoutResult($0) }.get()
  }

  private static func layoutResult(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONObjectLayout, JSONParseError> {
    var cursor = JSONCursor(buffer: buffer, maxDepth: JSONParser.defaultMaxDepth, syntax: .geminiRequest)
    do throws(JSONParseError) {
      cursor.skipWhitespace()
      guard cursor.current == UInt8(ascii: "{") else { throw cursor.error("expected a JSON object") }
      let open = cursor.position
      cursor.position += 1
      var members: [JSONMemberLocation] = []
      cursor.skipWhitespace()
      var close = cursor.position
      var trailingComma: Int?
      if cursor.current == UInt8(ascii: "}") {
        cursor.position += 1
      } else {
        loop: while true {
          guard cursor.current == UInt8(ascii: "\"") else { throw cursor.error("expected a string key in object") }
          let keyStart = cursor.position
          let key = try cursor.parseString()
          let keyEnd = cursor.position
          cursor.skipWhitespace()
          guard cursor.current == UInt8(ascii: ":") else { throw cursor.error("expected ':' after object key") }
          cursor.position += 1
          cursor.skipWhitespace()
          let valueStart = cursor.position
          try cursor.skipValue(depth: 1)
          members.append(
            JSONMemberLocation(key: key, keyRange: keyStart..<keyEnd, valueRange: valueStart..<cursor.position))
          cursor.skipWhitespace()
          switch cursor.current {
          case UInt8(ascii: ","):
            let comma = cursor.position
            cursor.position += 1
            cursor.skipWhitespace()
            if cursor.closesAfterComma(UInt8(ascii: "}")) {
              trailingComma = comma
              close = cursor.position - 1
              break loop
            }
          case UInt8(ascii: "}"):
            close = cursor.position
            cursor.position += 1
            break loop
          default: throw cursor.error("expected ',' or '}' after object member")
          }
        }
      }
      cursor.skipWhitespace()
      guard cursor.atEnd else { throw cursor.error("unexpected data after the JSON value") }
      return .success(
        JSONObjectLayout(openBrace: open, closeBrace: close, members: members, trailingComma: trailingComma))
    } catch {
      return .failure(error)
    }
  }

  /// Applies `edits` in order; members not named by an edit keep their exact bytes.
  ///
  /// An existing member is edited under the spelling the client used (never adding the other spelling:
  /// two JSON names for one proto field in one object is a parse conflict upstream).
  public static func apply(_ edits: [MemberEdit], to bytes: [UInt8]) throws(JSONParseError) -> [UInt8] {
    var current = bytes
    for edit in edits {
      let layout = try layout(of: current)
      if let location = layout.member(namedAnyOf: edit.keys) {
        let old = try JSONParser.parse(current[location.valueRange], syntax: .geminiRequest)
        if let new = try edit.transform(old) {
          current = replacingValue(of: location, with: new.serializedBytes(), in: current)
        } else {
          current = removing(location, layout: layout, from: current)
        }
      } else if let new = try edit.transform(nil), let key = edit.keys.first {
        current = inserting(key: key, valueBytes: new.serializedBytes(), layout: layout, into: current)
      }
    }
    return current
  }

  /// Replaces the value bytes of one member.
  public static func replacingValue(
    of location: JSONMemberLocation, with valueBytes: [UInt8], in bytes: [UInt8]
  ) -> [UInt8] {
    var out = bytes
    out.replaceSubrange(location.valueRange, with: valueBytes)
    return out
  }

  /// Appends a member after the last one (or as the only one).
  public static func inserting(
    key: String, valueBytes: [UInt8], layout: JSONObjectLayout, into bytes: [UInt8]
  ) -> [UInt8] {
    var member: [UInt8] = []
    let insertAt: Int
    if let last = layout.members.last {
      member.append(UInt8(ascii: ","))
      insertAt = last.valueRange.upperBound
    } else {
      insertAt = layout.openBrace + 1
    }
    JSONWriter.writeString(key, into: &member)
    member.append(UInt8(ascii: ":"))
    member.append(contentsOf: valueBytes)
    var out = bytes
    out.insert(contentsOf: member, at: insertAt)
    return out
  }

  /// Removes one member together with the comma that separates it from a neighbour.
  public static func removing(
    _ location: JSONMemberLocation, layout: JSONObjectLayout, from bytes: [UInt8]
  ) -> [UInt8] {
    guard let index = layout.members.firstIndex(of: location) else { return bytes }
    let range: Range<Int>
    if index + 1 < layout.members.count {
      range = location.keyRange.lowerBound..<layout.members[index + 1].keyRange.lowerBound
    } else if index > 0 {
      range = layout.members[index - 1].valueRange.upperBound..<location.valueRange.upperBound
    } else if let comma = layout.trailingComma {
      // The only member: its trailing comma goes too (`{,}` is not JSON even with trailing commas allowed).
      range = location.keyRange.lowerBound..<(comma + 1)
    } else {
      range = location.keyRange.lowerBound..<location.valueRange.upperBound
    }
    var out = bytes
    out.removeSubrange(range)
    return out
  }
}
