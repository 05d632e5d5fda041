package mailconf

import "testing"

func TestDefaultLoads(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *cat.Providers[0])
	t.Logf("%+v", cat.DNS)
	t.Logf("%+v", cat.Warnings)
}
