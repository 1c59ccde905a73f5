using Ut360.Api.Infrastructure;

namespace Ut360.Tests.Api;

public sealed class PhoneNumberTests
{
    [Theory]
    [InlineData("0912345678")]
    [InlineData("0912 345 678")]
    [InlineData("+84912345678")]
    [InlineData("+84 91 234 5678")]
    [InlineData("84-912-345-678")]
    [InlineData("84.912.345.678")]
    [InlineData("(+84) 912345678")]
    [InlineData("(+84) 912-345-678")]
    [InlineData("+840912345678")]
    [InlineData("+84 (0) 912 345 678")]
    [InlineData("0084912345678")]
    [InlineData("00 84 912 345 678")]
    [InlineData(" 84912345678 ")]
    public void Every_usual_spelling_of_a_mobile_number_gives_its_84_form(string written) =>
        Assert.Equal("84912345678", VietnamMobile.Normalise(written));

    [Theory]
    [InlineData("01662345678", "84362345678")]      // Viettel 0166 → 036
    [InlineData("+84 166 234 5678", "84362345678")]
    [InlineData("841692345678", "84392345678")]     // Viettel 0169 → 039
    [InlineData("0120 234 5678", "84702345678")]    // MobiFone 0120 → 070
    [InlineData("01212345678", "84792345678")]      // MobiFone 0121 → 079
    [InlineData("0124-234-5678", "84842345678")]    // VinaPhone 0124 → 084
    [InlineData("01272345678", "84812345678")]      // VinaPhone 0127 → 081
    [InlineData("01862345678", "84562345678")]      // Vietnamobile 0186 → 056
    [InlineData("01992345678", "84592345678")]      // Gmobile 0199 → 059
    public void A_pre_2018_eleven_digit_number_gives_the_number_it_became(string written, string expected) =>
        Assert.Equal(expected, VietnamMobile.Normalise(written));

    [Theory]
    [InlineData("")]
    [InlineData("12345")]
    [InlineData("0912abc456")]                  // letters: not a vanity number here
    [InlineData("091234567")]                   // a digit short
    [InlineData("09123456789")]                 // a digit long
    [InlineData("+84 24 3825 1234")]            // a Hanoi landline
    [InlineData("+1 202 555 0100")]             // another country
    [InlineData("+44 7911 123456")]
    [InlineData("01302345678")]                 // 0130: never a mobile prefix
    [InlineData("0912345678 ext 12")]
    public void What_cannot_be_a_vietnamese_mobile_number_is_refused(string written) =>
        Assert.Null(VietnamMobile.Normalise(written));
}
