package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"

	"github.com/fender-dev/fender/internal/config"
)

// configFlags parses -c and loads the config. Without -c, ./fender.yaml is
// used when it exists, else the defaults (fromFile reports which).
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (cfg *config.Config, path string, err error) {
	fset := flag.NewFlagSet(name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.StringVar(&path, "c", "", "config file (default ./fender.yaml when present)")
	if err := fset.Parse(args); err != nil {
		return nil, "", &usageError{err.Error()}
	}
	if fset.NArg() > 0 {
		return nil, "", &usageError{fmt.Sprintf("unexpected argument %q", fset.Arg(0))}
	}
	if path != "" {
		cfg, err = config.Load(path, getenv)
		return cfg, path, err
	}
	cfg, err = config.Load("fender.yaml", getenv)
	if errors.Is(err, fs.ErrNotExist) {
		return config.Default(), "", nil
	}
	return cfg, "fender.yaml", err
}

func check(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, path, err := loadConfig("check", args, getenv, stderr)
	if err != nil {
		var ve *config.ValidationError
		if errors.As(err, &ve) {
			fmt.Fprintln(stderr, ve.Error())
			return &reportedError{err: err, code: exitUsage}
		}
		return err
	}
	if path == "" {
		fmt.Fprintln(stderr, "# no config file (no -c and no ./fender.yaml): these are the defaults")
	} else {
		fmt.Fprintf(stderr, "# %s is valid; effective config, secrets masked:\n", path)
	}
	return cfg.WriteEffective(stdout)
}
