/// Parses HTTP dates (RFC 9110 §5.6.7): IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), which servers send, and
/// the two obsolete forms recipients must still accept (RFC 850 and asctime). Pure arithmetic, no locale.
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Milliseconds since the Unix epoch, or nil when the value is not an HTTP date.
    static func parseMillis(_ value: String) -> Int64? {
        let parts = value.split(whereSeparator: { $0 == " " || $0 == "," }).map { String($0) }
        var day: Int?
        var month: Int?
        var year: Int?
        var time: (Int, Int, Int)?
        if parts.count == 6, parts[5] == "GMT" {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            day = Int(parts[1])
            month = monthIndex(parts[2])
            year = Int(parts[3])
            time = clock(parts[4])
        } else if parts.count == 4, parts[3] == "GMT" {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let dmy = parts[1].split(separator: "-").map { String($0) }
            if dmy.count == 3, let yy = Int(dmy[2]) {
                day = Int(dmy[0])
                month = monthIndex(dmy[1])
                year = dmy[2].count == 2 ? (yy < 70 ? 2000 + yy : 1900 + yy) : yy
                time = clock(parts[2])
            }
        } else if parts.count == 5 {
            // asctime: Sun Nov  6 08:49:37 1994
            month = monthIndex(parts[1])
            day = Int(parts[2])
            time = clock(parts[3])
            year = Int(parts[4])
        }
        guard let d = day, let m = month, let y = year, let (hh, mm, ss) = time,
            (1...31).contains(d), (1900...9999).contains(y), hh < 24, mm < 60, ss < 61
        else { return nil }
        let days = daysFromCivil(year: y, month: m, day: d)
        return (days * 86400 + Int64(hh * 3600 + mm * 60 + ss)) * 1000
    }

    private static func monthIndex(_ s: String) -> Int? {
        months.firstIndex(of: s.lowercased()).map { $0 + 1 }
    }

    private static func clock(_ s: String) -> (Int, Int, Int)? {
        let f = s.split(separator: ":").compactMap { Int($0) }
        guard f.count == 3, s.utf8.count == 8 else { return nil }
        return (f[0], f[1], f[2])
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-days algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}
