extension String {
  /// The text cut or padded with spaces to `width` characters, for aligned columns.
  func padded(toWidth width: Int) -> String {
    let length = count
    return length >= width ? String(prefix(width)) : self + String(repeating: " ", count: width - length)
  }
}

extension Substring {
  /// The text without the spaces and tabs at either end.
  var trimmingSpacesAndTabs: Substring {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
    return self[first...last]
  }
}
