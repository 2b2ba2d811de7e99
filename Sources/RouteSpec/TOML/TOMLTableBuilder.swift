/// One segment of a dotted key or header, decoded, with the span of its source text.
struct TOMLKeySegment: Sendable {
  /// The decoded key text.
  var name: String
  /// The segment as written (quotes included).
  var span: SourceSpan
}

/// A key compared and hashed by its exact UTF-8 bytes.
///
/// TOML keys are equal only when their bytes are; `String`'s own equality would merge
/// canonically equivalent spellings (precomposed and decomposed accents) into one key.
struct TOMLKeyBytes: Hashable {
  /// The key.
  let text: String

  static func == (lhs: TOMLKeyBytes, rhs: TOMLKeyBytes) -> Bool {
    TOMLKeyBytes.same(lhs.text, rhs.text)
  }

  func hash(into hasher: inout Hasher) {
    let hashed: Void? = text.utf8.withContiguousStorageIfAvailable { buffer in
      hasher.combine(bytes: UnsafeRawBufferPointer(buffer))
    }
    if hashed == nil {
      for byte in text.utf8 { hasher.combine(byte) }
    }
  }

  /// Byte equality of two keys.
  static func same(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.count == rhs.utf8.count && lhs.utf8.elementsEqual(rhs.utf8)
  }
}

/// What a key of a table under construction holds.
enum TOMLSlot {
  /// A finished value (scalars, arrays, inline tables: none of them can change any more).
  case value
  /// A table that headers or dotted keys may still extend, by index in the arena.
  case table(Int)
  /// An array of tables (`[[a]]`), by index into `tableArrays`.
  case tableArray(Int)
}

/// A mutable table of the arena.
///
/// Entries are stored in their final form; a sub-table's entry holds an empty placeholder
/// table until `freeze` fills it in, so freezing moves arrays instead of copying entries.
struct TOMLBuildTable {
  var entries: [TOMLTable.Entry] = []
  /// Parallel to `entries`: what each key holds.
  var slots: [TOMLSlot] = []
  // Only tables with many keys pay for a dictionary; small ones are searched linearly.
  var index: [TOMLKeyBytes: Int] = [:]
  var origin: TOMLTable.Origin
  /// The header, the key segment that created it, or the braces of an inline table.
  var span: SourceSpan
  var depth: Int

  init(origin: TOMLTable.Origin, span: SourceSpan, depth: Int) {
    self.origin = origin
    self.span = span
    self.depth = depth
    entries.reserveCapacity(4)
    slots.reserveCapacity(4)
  }
}

/// Builds the document's tables in a flat arena addressed by index, and freezes them at the end.
///
/// Nested value-type tables would be copied on every write through a path of parents;
/// indices keep every insertion in place and O(1).
struct TOMLTableBuilder {
  /// Deepest table or array nesting accepted, so that no recursive consumer can overflow the stack.
  static let maxDepth = 128
  /// Tables with at least this many keys get a dictionary index; below it a linear scan is faster.
  static let indexThreshold = 24

  var tables: [TOMLBuildTable]
  var tableArrays: [[Int]] = []
  let file: FileID

  /// Creates a builder holding only the root table (index 0).
  init(file: FileID) {
    self.file = file
    tables = [TOMLBuildTable(origin: .root, span: SourceSpan(file: file, start: 0, end: 0), depth: 0)]
    tables.reserveCapacity(64)
  }

  /// The position of `key` among the entries of `table`, if present.
  func find(_ key: String, in table: Int) -> Int? {
    if tables[table].entries.count < Self.indexThreshold {
      for position in tables[table].entries.indices where TOMLKeyBytes.same(tables[table].entries[position].key, key) {
        return position
      }
      return nil
    }
    return tables[table].index[TOMLKeyBytes(text: key)]
  }

  /// Appends an entry to `table` (the caller has checked that the key is new).
  mutating func add(_ entry: TOMLTable.Entry, _ slot: TOMLSlot, to table: Int) {
    let position = tables[table].entries.count
    if position + 1 == Self.indexThreshold {
      tables[table].index.reserveCapacity(Self.indexThreshold * 2)
      for (offset, existing) in tables[table].entries.enumerated() {
        tables[table].index[TOMLKeyBytes(text: existing.key)] = offset
      }
    }
    if position + 1 >= Self.indexThreshold {
      tables[table].index[TOMLKeyBytes(text: entry.key)] = position
    }
    tables[table].entries.append(entry)
    tables[table].slots.append(slot)
  }

  /// Adds a plain value under `key`.
  mutating func add(_ value: TOMLValue, key: TOMLKeySegment, to table: Int) {
    add(TOMLTable.Entry(key: key.name, keySpan: key.span, value: value), .value, to: table)
  }

  /// Adds a new empty table to the arena and links it under `key` of `parent`.
  mutating func addTable(
    _ key: TOMLKeySegment, origin: TOMLTable.Origin, span: SourceSpan, to parent: Int
  ) throws(TOMLError) -> Int {
    let child = try newTable(origin: origin, span: span, depth: tables[parent].depth + 1)
    let placeholder = TOMLValue(.table(TOMLTable(origin: origin)), span: span)
    add(TOMLTable.Entry(key: key.name, keySpan: key.span, value: placeholder), .table(child), to: parent)
    return child
  }

  /// Adds a new empty table to the arena.
  mutating func newTable(origin: TOMLTable.Origin, span: SourceSpan, depth: Int) throws(TOMLError) -> Int {
    guard depth <= Self.maxDepth else {
      throw TOMLError(
        .nestingTooDeep, "tables are nested more than \(Self.maxDepth) levels deep", at: Label(span),
        help: "flatten the structure")
    }
    tables.append(TOMLBuildTable(origin: origin, span: span, depth: depth))
    return tables.count - 1
  }

  /// Drops the tables from `mark` on (the scratch tables of a finished inline table).
  mutating func truncate(to mark: Int) {
    if mark < tables.count { tables.removeSubrange(mark...) }
  }

  /// The dotted name of the first `count` segments, for messages.
  static func name(_ path: [TOMLKeySegment], _ count: Int) -> String {
    path.prefix(count).map(\.name).joined(separator: ".")
  }

  /// The error for a key that already holds a plain value but is used as a table.
  func notATable(_ value: TOMLValue, name: String, at span: SourceSpan, first: SourceSpan) -> TOMLError {
    if case .table = value.kind {
      return TOMLError(
        .tableRedefined, "inline table `\(name)` cannot be extended", at: Label(span),
        secondary: [Label(first, "first defined here")],
        help: "put every key of an inline table inside its braces, or use a [table] header")
    }
    return TOMLError(
      .tableRedefined, "key `\(name)` is already a \(value.typeName), not a table", at: Label(span),
      secondary: [Label(first, "first defined here")])
  }

  /// Walks the dotted prefix of a `key = value` line from `table`, creating dotted tables as needed,
  /// and returns the table that receives the last segment (checked not to exist yet).
  mutating func resolveKeyValue(_ path: [TOMLKeySegment], from table: Int) throws(TOMLError) -> Int {
    var current = table
    var offset = 0
    while offset < path.count - 1 {
      let segment = path[offset]
      offset += 1
      guard let position = find(segment.name, in: current) else {
        current = try addTable(segment, origin: .dotted, span: segment.span, to: current)
        continue
      }
      let entry = tables[current].entries[position]
      let name = Self.name(path, offset)
      switch tables[current].slots[position] {
      case .table(let child):
        switch tables[child].origin {
        case .dotted:
          current = child
        case .implicit:
          // Once dotted keys write into it, the table counts as defined: a later header may not redefine it.
          tables[child].origin = .dotted
          current = child
        default:
          throw TOMLError(
            .tableRedefined, "table `\(name)` is defined by a header, so dotted keys cannot add to it",
            at: Label(segment.span), secondary: [Label(tables[child].span, "first defined here")],
            help: "add the key under the [\(name)] header instead")
        }
      case .tableArray:
        throw TOMLError(
          .tableRedefined, "`\(name)` is an array of tables, so dotted keys cannot add to it",
          at: Label(segment.span), secondary: [Label(entry.keySpan, "first defined here")])
      case .value:
        throw notATable(entry.value, name: name, at: segment.span, first: entry.keySpan)
      }
    }
    if let last = path.last, let position = find(last.name, in: current) {
      let first = tables[current].entries[position].keySpan
      throw TOMLError(
        .duplicateKey, "duplicate key `\(Self.name(path, path.count))`", at: Label(last.span),
        secondary: [Label(first, "first defined here")], help: "remove one of the two definitions")
    }
    return current
  }

  /// Opens the table of a `[a.b]` or `[[a.b]]` header and returns it.
  mutating func openHeader(_ path: [TOMLKeySegment], isArray: Bool, span: SourceSpan) throws(TOMLError) -> Int {
    var current = 0
    var offset = 0
    while offset < path.count - 1 {
      let segment = path[offset]
      offset += 1
      guard let position = find(segment.name, in: current) else {
        current = try addTable(segment, origin: .implicit, span: segment.span, to: current)
        continue
      }
      switch tables[current].slots[position] {
      case .table(let child):
        // Inline tables are stored as values, so every table here may still receive sub-tables.
        current = child
      case .tableArray(let list):
        guard let last = tableArrays[list].last else { return current }
        current = last
      case .value:
        let entry = tables[current].entries[position]
        throw notATable(entry.value, name: Self.name(path, offset), at: segment.span, first: entry.keySpan)
      }
    }
    guard let last = path.last else { return current }
    let name = Self.name(path, path.count)
    guard let position = find(last.name, in: current) else {
      if isArray {
        let child = try newTable(origin: .arrayElement, span: span, depth: tables[current].depth + 1)
        tableArrays.append([child])
        let placeholder = TOMLValue(.array([]), span: span)
        add(
          TOMLTable.Entry(key: last.name, keySpan: last.span, value: placeholder), .tableArray(tableArrays.count - 1),
          to: current)
        return child
      }
      return try addTable(last, origin: .header, span: span, to: current)
    }
    switch (tables[current].slots[position], isArray) {
    case (.table(let child), false) where tables[child].origin == .implicit:
      tables[child].origin = .header
      tables[child].span = span
      return child
    case (.tableArray(let list), true):
      let child = try newTable(origin: .arrayElement, span: span, depth: tables[current].depth + 1)
      tableArrays[list].append(child)
      return child
    case (.table(let child), false):
      throw TOMLError(
        .tableRedefined, "table `\(name)` is defined more than once", at: Label(span),
        secondary: [Label(tables[child].span, "first defined here")],
        help: "merge the keys into the first definition")
    case (.table(let child), true):
      throw TOMLError(
        .tableRedefined, "`\(name)` is already a table, not an array of tables", at: Label(span),
        secondary: [Label(tables[child].span, "first defined here")],
        help: "write [\(name)] or rename one of them")
    case (.tableArray, false):
      let entry = tables[current].entries[position]
      throw TOMLError(
        .tableRedefined, "`\(name)` is already an array of tables", at: Label(span),
        secondary: [Label(entry.keySpan, "first defined here")], help: "write [[\(name)]] to add an element")
    case (.value, _):
      let entry = tables[current].entries[position]
      if case .array = entry.value.kind, isArray {
        throw TOMLError(
          .tableRedefined, "`\(name)` is a static array and cannot be extended with [[\(name)]]", at: Label(span),
          secondary: [Label(entry.keySpan, "first defined here")])
      }
      throw notATable(entry.value, name: name, at: span, first: entry.keySpan)
    }
  }

  /// Turns arena table `table` and everything below it into immutable trees.
  mutating func freeze(_ table: Int) -> TOMLTable {
    var entries: [TOMLTable.Entry] = []
    swap(&entries, &tables[table].entries)
    var slots: [TOMLSlot] = []
    swap(&slots, &tables[table].slots)
    for position in slots.indices {
      switch slots[position] {
      case .value:
        continue
      case .table(let child):
        entries[position].value = TOMLValue(.table(freeze(child)), span: tables[child].span)
      case .tableArray(let list):
        var elements: [TOMLValue] = []
        elements.reserveCapacity(tableArrays[list].count)
        for child in tableArrays[list] {
          elements.append(TOMLValue(.table(freeze(child)), span: tables[child].span))
        }
        entries[position].value = TOMLValue(.array(elements), span: elements.first?.span ?? entries[position].keySpan)
      }
    }
    return TOMLTable(entries: entries, origin: tables[table].origin)
  }
}
