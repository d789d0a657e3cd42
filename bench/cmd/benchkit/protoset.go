package main

import (
	"errors"
	"os"

	orgsv1 "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protoset writes a FileDescriptorSet with the user and organization services and every file
// they import, dependencies first, as ghz --protoset expects. It comes from the generated Go
// code, so it needs neither protoc nor server reflection.
func protoset(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: benchkit protoset OUT")
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(usersv1.File_scalekit_v1_users_users_proto)
	add(orgsv1.File_scalekit_v1_organizations_organizations_proto)
	b, err := proto.Marshal(set)
	if err != nil {
		return err
	}
	return os.WriteFile(args[0], b, 0o644)
}
