/// A first-in, first-out ring: O(1) append and removal at the front, and no more slots than the most elements it
/// ever held at once (rounded up to a power of two), so a full buffer dropping its oldest item moves nothing.
struct FIFOQueue<Element> {
    private var slots: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ e: consuming Element) {
        if count == slots.count { grow() }
        slots[(head + count) & (slots.count - 1)] = e
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let e = slots[head].take()
        head = (head + 1) & (slots.count - 1)
        count -= 1
        return e
    }

    /// Removes and returns up to `n` elements from the front, in order.
    mutating func removeFirst(upTo n: Int) -> [Element] {
        let k = min(max(0, n), count)
        var out: [Element] = []
        out.reserveCapacity(k)
        for _ in 0..<k {
            if let e = popFirst() { out.append(e) }
        }
        return out
    }

    mutating func removeAll() {
        slots = []
        head = 0
        count = 0
    }

    /// Doubles the ring (a power of two, so indices wrap with a mask), keeping the order from the front.
    private mutating func grow() {
        var bigger = [Element?](repeating: nil, count: max(16, slots.count * 2))
        // Moved, not copied: no retain and release of every element.
        for i in 0..<count { bigger[i] = slots[(head + i) & (slots.count - 1)].take() }
        slots = bigger
        head = 0
    }
}
