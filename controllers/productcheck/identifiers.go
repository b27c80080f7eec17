package productcheck

import (
	"regexp"
	"strings"
	"time"

	opv1 "github.com/opdomain/opdomain/api/v1alpha1"
)

// Kinds of identifier the scan finds.
const (
	ResidentID = "ResidentID"
	Mobile     = "MobileNumber"
	BankCard   = "BankCard"
	Email      = "Email"
	CreditCode = "CreditCode"
)

// kinds is the order findings come in.
var kinds = []string{ResidentID, Mobile, BankCard, Email, CreditCode}

var (
	email  = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
	mobile = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	// Card numbers of the schemes issued here (UnionPay 62, and 3–5: JCB, American Express,
	// Visa, Mastercard): a leading 1, as in timestamps, is no card.
	card = regexp.MustCompile(`^[2-6][0-9]{14,18}$`)
)

// Identifier is a kind of identifier found in a text.
type Identifier struct {
	Kind string
	// Count is how many were found.
	Count int
}

// ScanIdentifiers finds personal and entity identifiers in text: resident ID numbers whose
// check digit and birth date hold (GB 11643), mobile numbers, bank card numbers passing the Luhn
// check, e-mail addresses, and unified social credit codes whose check character holds
// (GB 32100). Numbers are matched as whole words (a mobile number inside a longer number is
// none). It returns the kinds found, in a fixed order, never the values.
func ScanIdentifiers(text string) []Identifier {
	counts := map[string]int{Email: len(email.FindAllString(text, -1))}
	words := strings.FieldsFunc(text, func(r rune) bool { return !isAlnum(r) })
	for _, word := range words {
		word = strings.ToUpper(word)
		switch {
		case len(word) == 18 && validResidentID(word):
			counts[ResidentID]++
		case len(word) == 18 && opv1.ValidCreditCode(word):
			counts[CreditCode]++
		case allDigits(word):
			if mobile.MatchString(word) {
				counts[Mobile]++
			} else if card.MatchString(word) && luhn(word) {
				counts[BankCard]++
			}
		}
	}
	var found []Identifier
	for _, kind := range kinds {
		if counts[kind] > 0 {
			found = append(found, Identifier{Kind: kind, Count: counts[kind]})
		}
	}
	return found
}

// validResidentID checks an 18-character resident identity number: a plausible birth date in
// characters 7–14 and the ISO 7064 MOD 11-2 check character.
func validResidentID(id string) bool {
	id = strings.ToUpper(id)
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		c := id[i]
		if c < '0' || c > '9' {
			return false
		}
		sum += int(c-'0') * w
	}
	if id[17] != "10X98765432"[sum%11] {
		return false
	}
	born, err := time.Parse("20060102", id[6:14])
	return err == nil && born.Year() >= 1900 && born.Before(time.Now())
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func allDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// luhn checks a card number's check digit.
func luhn(number string) bool {
	sum := 0
	for i := range len(number) {
		d := int(number[len(number)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
