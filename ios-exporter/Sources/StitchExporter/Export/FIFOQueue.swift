/// A first-in, first-out queue with O(1) amortized removal at the front: the consumed prefix is dropped from the
/// storage only once it is at least half of it, so no removal moves the whole queue.
struct FIFOQueue<Element> {
    private var storage: [Element] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ e: Element) { storage.append(e) }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let e = storage[head]
        head += 1
        compactIfWorthIt()
        return e
    }

    /// Removes and returns up to `n` elements from the front, in order.
    mutating func removeFirst(upTo n: Int) -> [Element] {
        let k = min(max(0, n), count)
        let out = Array(storage[head..<(head + k)])
        head += k
        compactIfWorthIt()
        return out
    }

    mutating func removeAll() {
        storage.removeAll()
        head = 0
    }

    private mutating func compactIfWorthIt() {
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }
}
