package mlx_test

import (
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/tensor/mlx"
)

// TestChooseDevice: unset, the GPU exactly when the library reports Metal;
// cpu always the CPU (the override for a Metal build on a runner whose GPU
// is missing or wrong); gpu only with Metal; anything else an error.
func TestChooseDevice(t *testing.T) {
	for _, c := range []struct {
		requested string
		metal     bool
		want      string
		err       string
	}{
		{"", true, "gpu", ""},
		{"", false, "cpu", ""},
		{"cpu", true, "cpu", ""},
		{"cpu", false, "cpu", ""},
		{"gpu", true, "gpu", ""},
		{"gpu", false, "", "Metal GPU device is not available"},
		{"metal", true, "", `"metal"`},
	} {
		got, err := mlx.ChooseDevice(c.requested, c.metal)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ChooseDevice(%q, metal %v) = %q, %v; want %q, error containing %q", c.requested, c.metal, got, err, c.want, c.err)
		}
	}
}

// TestDeviceFromEnv: MODELBAR_MLX_DEVICE is cpu, gpu or unset; another
// value is an error that names the variable and the values it takes.
func TestDeviceFromEnv(t *testing.T) {
	for _, c := range []struct {
		value, want string
		wantErr     bool
	}{
		{"", "", false},
		{"cpu", "cpu", false},
		{"gpu", "gpu", false},
		{"GPU", "", true},
		{"metal", "", true},
	} {
		t.Setenv(mlx.EnvDevice, c.value)
		got, err := mlx.DeviceFromEnv()
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("%s=%q: DeviceFromEnv() = %q, %v; want %q, error %v", mlx.EnvDevice, c.value, got, err, c.want, c.wantErr)
		}
		if err != nil && (!strings.Contains(err.Error(), mlx.EnvDevice) || !strings.Contains(err.Error(), "use cpu or gpu")) {
			t.Errorf("error %q does not name %s and its values", err, mlx.EnvDevice)
		}
	}
}
