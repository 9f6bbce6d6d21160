import StitchSchema
import StitchTestSupport
import Testing

@Suite struct PIIScannerTests {
    @Test(arguments: [
        ("mail jane.doe@example.com now", "email"),
        ("connect 10.0.0.1 refused", "ipv4"),
        ("host 2001:db8::1", "ipv6"),
        ("fe80::1", "ipv6"),
        ("Call +1 415 555 0123", "phone"),
        ("tel 415.555.0123", "phone"),
    ])
    func detectsPersonalData(value: String, kind: String) {
        #expect(PIIScanner.containsPII(value))
        #expect(PIIScanner.firstMatchingPattern(in: value) == kind)
    }

    @Test(arguments: [
        "CheckoutView", "Report 2024-01-15", "NSURLErrorDomain.-1001", "sdk 1.2.3", "12:30", "v1.2.3.4.5", "",
        "a@b", "1.2.3.4.5", "order 12345678", "(415) 555-0123",
    ])
    func keepsOrdinaryValues(value: String) {
        #expect(!PIIScanner.containsPII(value))
    }

    /// The byte guards may only skip regexes that cannot match: on a corpus dense in the characters the patterns
    /// care about, the guarded scan must agree with running every regex.
    @Test func guardsNeverChangeTheResult() {
        let alphabet = Array("0123456789.:@+-() aZf".unicodeScalars)
        var generator = SplitMix64(seed: 0x5717C4)
        var positives = 0
        for _ in 0..<4000 {
            let length = Int(generator.next() % 24)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length {
                scalars.append(alphabet[Int(generator.next() % UInt64(alphabet.count))])
            }
            let value = String(scalars)
            let unguarded = PrivacyRules.piiPatterns.contains { $0.regex.matches(value) }
            #expect(PIIScanner.containsPII(value) == unguarded, "\(value.debugDescription)")
            if unguarded { positives += 1 }
        }
        #expect(positives > 50)
        #expect(positives < 3900)
    }
}
