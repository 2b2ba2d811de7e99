/// Names (routes, backends, clients, modes, hop outcomes) as small integers, in the order first seen: a series
/// is keyed by these ids, so a request hashes no label string once its names are known.
///
/// Not thread-safe: each table lives in the state of its owner's lock.
struct NameTable: Sendable {
  /// The names, by id.
  private(set) var names: [String] = []
  private var ids: [String: Int] = [:]
  /// The id of the name last resolved of each UTF-8 length (modulo the slot count), or -1. A record's names
  /// are the route table's own strings (or small strings, compared by value), so `==` with the slot's name
  /// is a compare of two words: no hashing for a name seen before.
  private var recent = [Int](repeating: -1, count: 16)
  /// Names tracked at most; past it a new name has no id.
  let limit: Int

  init(limit: Int = Int.max) { self.limit = limit }

  var count: Int { names.count }

  subscript(id: Int) -> String { names[id] }

  /// The id of `name`, given one now if it is new and the table has room; nil when it is new and the table
  /// is full.
  mutating func id(_ name: String) -> Int? {
    let slot = name.utf8.count & (recent.count - 1)
    let cached = recent[slot]
    if cached >= 0, names[cached] == name { return cached }
    let id: Int
    if let known = ids[name] {
      id = known
    } else {
      guard names.count < limit else { return nil }
      id = names.count
      names.append(name)
      ids[name] = id
    }
    recent[slot] = id
    return id
  }
}

extension NameTable {
  /// The id of `name`'s label (`label(name)`, given one now if it is new), remembered in `last` for `name`:
  /// the name `last` remembers costs no lookup. Nil when the label is new and the table is full.
  mutating func id(
    _ name: String, remembering last: inout LastName, label: (String) -> String = { $0 }
  ) -> Int? {
    if let id = last.id(of: name) { return id }
    guard let id = id(label(name)) else { return nil }
    last.remember(name, id)
    return id
  }
}

/// The id a name got when last resolved at one place of a record (its route, its last backend, its client, ...):
/// a record mostly names what the one before named, with the route table's own strings, and two equal strings
/// of one storage compare as two words, before any hashing, label mapping or table lookup.
///
/// Not thread-safe: each one lives in the state of its owner's lock, beside the table whose id it remembers
/// (ids never change: tables only grow).
struct LastName: Sendable {
  private var name = ""
  /// The id of ``name``, or -1 before the first.
  private var id = -1

  /// The id remembered for `name`, or nil when the name is another.
  func id(of name: String) -> Int? {
    id >= 0 && name == self.name ? id : nil
  }

  /// Remembers that `name` has `id`.
  mutating func remember(_ name: String, _ id: Int) {
    self.name = name
    self.id = id
  }
}

/// A series' key: label ids packed into two words (see each user for the layout).
struct SeriesKey: Equatable, Sendable {
  let high: UInt64
  let low: UInt64
}

/// Values by ``SeriesKey``, in the order their keys were first seen, found by open addressing with a
/// multiplicative hash: keys are ids the metrics gave out, nothing a client chooses, so an unseeded hash cannot
/// be flooded, and it costs a few instructions where `Hasher` costs a hundred.
///
/// Not thread-safe: each table lives in the state of its owner's lock.
struct SeriesTable<Value: Sendable>: Sendable {
  private(set) var keys: [SeriesKey] = []
  private(set) var values: [Value] = []
  /// Index + 1 of the entry whose key hashes to a slot (or to an earlier one, probing on), 0 for none; a
  /// power of two at least twice the entries.
  private var slots = [Int](repeating: 0, count: 16)

  /// The index of `key`'s entry, made with `make()` when it is new.
  mutating func index(_ key: SeriesKey, default make: () -> Value) -> Int {
    let mask = slots.count - 1
    var slot = Self.hash(key) & mask
    while true {
      let entry = slots[slot]
      if entry == 0 { break }
      if keys[entry - 1] == key { return entry - 1 }
      slot = (slot + 1) & mask
    }
    keys.append(key)
    values.append(make())
    slots[slot] = keys.count
    if keys.count * 2 > slots.count { grow() }
    return keys.count - 1
  }

  subscript(index: Int) -> Value {
    get { values[index] }
    _modify { yield &values[index] }
  }

  /// The entries, in the order first seen.
  var entries: Zip2Sequence<[SeriesKey], [Value]> { zip(keys, values) }

  private mutating func grow() {
    slots = [Int](repeating: 0, count: slots.count * 2)
    let mask = slots.count - 1
    for (index, key) in keys.enumerated() {
      var slot = Self.hash(key) & mask
      while slots[slot] != 0 { slot = (slot + 1) & mask }
      slots[slot] = index + 1
    }
  }

  /// The top bits of a multiplicative (Fibonacci) hash of both words, which every bit of the key moves.
  private static func hash(_ key: SeriesKey) -> Int {
    let mixed = (key.high &* 0x9E37_79B9_7F4A_7C15 ^ key.low) &* 0xBF58_476D_1CE4_E5B9
    return Int(truncatingIfNeeded: mixed >> 32)
  }
}
