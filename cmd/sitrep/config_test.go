package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envOf returns a getenv over m.
func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestServeHelpListsEverySettingWithItsDefault(t *testing.T) {
	var out bytes.Buffer
	_, err := loadConfig("serve", []string{"--help"}, &out, io.Discard, envOf(nil))
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	help := out.String()
	for _, s := range settings() {
		if !s.usedBy("serve") {
			continue
		}
		if !strings.Contains(help, s.env) || !strings.Contains(help, "-"+s.flag+" ") {
			t.Errorf("serve --help lacks %s / -%s", s.env, s.flag)
		}
		if s.def != "" && !strings.Contains(help, s.env+", default "+s.def+")") {
			t.Errorf("serve --help lacks the default of %s (%s)", s.env, s.def)
		}
		if s.secret && !strings.Contains(help, s.env+"_FILE") {
			t.Errorf("serve --help lacks %s_FILE", s.env)
		}
	}
	if strings.Contains(help, "SITREP_CONSOLE_RATE") {
		t.Error("serve --help lists a console-only setting")
	}
}

func TestInvalidSettingsAreRejectedByName(t *testing.T) {
	const token = "123:very-secret-token-value"
	for env, value := range map[string]string{
		"SITREP_LOG_LEVEL":               "loud",
		"SITREP_LOG_FORMAT":              "xml",
		"SITREP_HTTP_ADDR":               "localhost",
		"SITREP_PUBLIC_URL":              "sitrep.example.org/feeds",
		"SITREP_SHUTDOWN_TIMEOUT":        "soon",
		"SITREP_ADMINS":                  "12345",
		"SITREP_TELEGRAM_API_ENDPOINT":   "https://api.example.org/bot",
		"SITREP_TELEGRAM_WEBHOOK_URL":    "http://bot.example.org/hook",
		"SITREP_TELEGRAM_LIMITS":         "global=fast",
		"SITREP_DISCORD_API_ENDPOINT":    "discord-proxy:8080",
		"SITREP_DISCORD_PUBLIC_KEY":      "not-hex",
		"SITREP_DISCORD_LIMITS":          "chat=-1/s",
		"SITREP_DB":                      "",
		"SITREP_DISCORD_GUILD":           "my-server",
		"SITREP_TELEGRAM_WEBHOOK_SECRET": "not allowed!",
	} {
		t.Run(env, func(t *testing.T) {
			m := map[string]string{"SITREP_TELEGRAM_TOKEN": token, "SITREP_TELEGRAM_WEBHOOK_SECRET": "hook-secret", "SITREP_TELEGRAM_WEBHOOK_URL": "https://bot.example.org/hook", env: value}
			args := []string{}
			if value == "" {
				args = []string{"-db="} // an empty value can only be given as a flag
			}
			_, err := loadConfig("serve", args, io.Discard, &bytes.Buffer{}, envOf(m))
			if err == nil || !strings.Contains(err.Error(), env) {
				t.Fatalf("%s=%q: %v, want an error naming %s", env, value, err, env)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "hook-secret") {
				t.Fatalf("the error quotes a secret: %v", err)
			}
		})
	}
}

func TestFlagsOverrideTheEnvironmentAndSecretsComeFromFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("999:from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{
		"SITREP_DB":                  "/env/sitrep.db",
		"SITREP_HTTP_ADDR":           "127.0.0.1:9000",
		"SITREP_TELEGRAM_TOKEN_FILE": file,
		"SITREP_ADMINS":              "telegram:1, discord:2",
	}
	cfg, err := loadConfig("serve", []string{"-db", "/flag/sitrep.db", "-http-addr", "off"}, io.Discard, &bytes.Buffer{}, envOf(m))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "/flag/sitrep.db" || cfg.HTTPAddr != "" {
		t.Errorf("flags did not override: db %q, http %q", cfg.DB, cfg.HTTPAddr)
	}
	if cfg.TelegramToken != "999:from-the-file" {
		t.Errorf("token from SITREP_TELEGRAM_TOKEN_FILE = %q", cfg.TelegramToken)
	}
	if len(cfg.Admins) != 2 || cfg.Admins[1] != "discord:2" {
		t.Errorf("admins = %q", cfg.Admins)
	}
	if cfg.LogLevel != "info" || cfg.LogFormat != "auto" || cfg.Shutdown.Seconds() != 10 {
		t.Errorf("defaults: level %q, format %q, shutdown %s", cfg.LogLevel, cfg.LogFormat, cfg.Shutdown)
	}
	// The variable itself wins over its _FILE; a missing file is named.
	m["SITREP_TELEGRAM_TOKEN"] = "1:direct"
	if cfg, err := loadConfig("serve", nil, io.Discard, &bytes.Buffer{}, envOf(m)); err != nil || cfg.TelegramToken != "1:direct" {
		t.Errorf("token = %q, %v; want the variable's value", cfg.TelegramToken, err)
	}
	delete(m, "SITREP_TELEGRAM_TOKEN")
	m["SITREP_TELEGRAM_TOKEN_FILE"] = filepath.Join(dir, "missing")
	if _, err := loadConfig("serve", nil, io.Discard, &bytes.Buffer{}, envOf(m)); err == nil || !strings.Contains(err.Error(), "SITREP_TELEGRAM_TOKEN_FILE") {
		t.Errorf("missing token file: %v", err)
	}
	if _, err := loadConfig("serve", []string{"-telegram-token-file", file}, io.Discard, &bytes.Buffer{}, envOf(nil)); err != nil {
		t.Errorf("-telegram-token-file: %v", err)
	}
}

func TestServeWithoutPlatformSaysHowToConfigureOne(t *testing.T) {
	err := run(t.Context(), []string{"serve", "-http-addr", "off"}, nil, &bytes.Buffer{}, &bytes.Buffer{}, envOf(map[string]string{"SITREP_DB": filepath.Join(t.TempDir(), "s.db")}))
	if err == nil || !strings.Contains(err.Error(), "SITREP_TELEGRAM_TOKEN") || !strings.Contains(err.Error(), "sitrep demo") {
		t.Fatalf("serve with no platform: %v", err)
	}
}

func TestBackupFindsTheServerAndItsToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		value, file string
		byFlag      bool
		want        string
	}{
		{"from-env", "", false, "from-env"},
		{"", file, false, "from-file"},
		{"from-env", file, false, "from-env"}, // SITREP_ADMIN_TOKEN beats SITREP_ADMIN_TOKEN_FILE
		{"from-env", file, true, "from-file"}, // -admin-token-file beats both
	} {
		if got, err := adminToken(tc.value, tc.file, tc.byFlag); err != nil || got != tc.want {
			t.Errorf("adminToken(%q, %q, %v) = %q, %v; want %q", tc.value, tc.file, tc.byFlag, got, err, tc.want)
		}
	}
	if _, err := backupOverHTTP(t.Context(), filepath.Join(t.TempDir(), "b.db"), "off", "tok"); err == nil || !strings.Contains(err.Error(), "off") {
		t.Errorf("backup with SITREP_HTTP_ADDR=off: %v", err)
	}
	// A server listening on every address is asked on loopback, where nothing listens here.
	_, err := backupOverHTTP(t.Context(), filepath.Join(t.TempDir(), "b.db"), "0.0.0.0:"+strings.Split(freeAddr(t), ":")[1], "tok")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("backup from 0.0.0.0: %v, want a request to 127.0.0.1", err)
	}
}
