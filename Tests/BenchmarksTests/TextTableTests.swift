import Testing
@testable import Benchmarks

@Suite struct TextTableTests {
    @Test func columnsArePaddedNumbersRightAligned() {
        var table = TextTable(title: "T", header: ["name", "value"])
        table.add(["a", "1.5"])
        table.add(["longer", "123.25"])
        let lines = table.render().split(separator: "\n").map(String.init)
        #expect(lines == [
            "T",
            "name    value",
            "------  ------",
            "a          1.5",
            "longer  123.25",
        ])
    }

    @Test func numericCellsMayEndInTimesOrPercent() {
        #expect(TextTable.isNumeric("12.5×"))
        #expect(TextTable.isNumeric("40%"))
        #expect(!TextTable.isNumeric("flow"))
        #expect(!TextTable.isNumeric("×"))
    }

    @Test func formatFixedRoundsAndNamesNonFinite() {
        #expect(formatFixed(1.25, digits: 1) == "1.2" || formatFixed(1.25, digits: 1) == "1.3")
        #expect(formatFixed(2.0 / 3.0, digits: 3) == "0.667")
        #expect(formatFixed(.infinity, digits: 2) == "inf")
        #expect(formatFixed(.nan, digits: 2) == "nan")
    }
}
